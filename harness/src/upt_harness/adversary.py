"""`upt-harness adversary`: bad input, damaged data and interrupted work thrown at the commands.

Every case runs the real command lines (`upt-data`, `upt-train`) in subprocesses against real
stores and runs, then sorts the outcome into one of five classes:

- clear error: exit code 2, no traceback, and stderr ending in one `PROGRAM: error: ...` line
  (progress bars before it are allowed);
- handled: a case that is not an error (e.g. a resume after a partial metrics line) finished fine;
- traceback: a Python traceback on stderr, whatever the exit code;
- silent: bad input accepted (exit 0), or a command that ran past its time limit;
- damaged: an existing store or run folder changed where it must not.

The counts are the figures of the reliability issue; the table names each case and its outcome.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

OUTCOMES = ("clear error", "handled", "traceback", "silent", "damaged")


@dataclass
class Workspace:
    """Shared fixtures of the cases: a tiny store and a finished run, made once."""

    root: Path
    store: Path = field(init=False)
    run: Path = field(init=False)

    def __post_init__(self) -> None:
        self.store = self.root / "store.zarr"
        self.run = self.root / "run"

    def copy_store(self, name: str) -> Path:
        target = self.root / name
        shutil.copytree(self.store, target)
        return target

    def copy_run(self, name: str) -> Path:
        target = self.root / name
        shutil.copytree(self.run, target)
        return target


@dataclass(frozen=True)
class Case:
    """`prepare` returns the command line and the folders that must come out unchanged."""

    name: str
    group: str
    prepare: Callable[[Workspace], tuple[list[str], list[Path]]]
    bad_input: bool = True
    timeout: float = 120.0


def tool(name: str) -> str:
    script = Path(sys.executable).parent / name
    return str(script) if script.exists() else name


def quick_train(store: Path, run_dir: Path, *overrides: str) -> list[str]:
    return [
        tool("upt-train"),
        "burgers_quick",
        f"data.store={store}",
        "training.checkpoint_every=3",
        *overrides,
        "--run-dir",
        str(run_dir),
    ]


def short_hash(*parts: str) -> str:
    """A file-name-safe tag for a case's arguments."""
    return hashlib.sha1(" ".join(parts).encode()).hexdigest()[:8]


def folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def first_chunk(store: Path, split: str = "train") -> Path:
    return next(
        path for path in sorted((store / split / "fields" / "c").rglob("*")) if path.is_file()
    )


def damage(work: Workspace, how: str, purpose: str) -> Path:
    """A copy of the shared store with its first training chunk damaged `how`."""
    store = work.copy_store(f"damaged-{how}-{purpose}.zarr")
    chunk = first_chunk(store)
    data = chunk.read_bytes()
    if how == "deleted":
        chunk.unlink()
    else:
        damaged = {
            "zero-byte": b"",
            "truncated": data[: len(data) // 2],
            "garbage": bytes((b * 7 + 3) % 256 for b in data),
        }
        chunk.write_bytes(damaged[how])
    return store


def damaged_store(how: str) -> Callable[[Workspace], tuple[list[str], list[Path]]]:
    def prepare(work: Workspace) -> tuple[list[str], list[Path]]:
        return quick_train(damage(work, how, "train"), work.root / f"run-{how}"), []

    return prepare


def damaged_store_info(how: str) -> Callable[[Workspace], tuple[list[str], list[Path]]]:
    def prepare(work: Workspace) -> tuple[list[str], list[Path]]:
        return [tool("upt-data"), "info", str(damage(work, how, "info")), "--check"], []

    return prepare


def existing_run(work: Workspace) -> tuple[list[str], list[Path]]:
    run = work.copy_run("existing-run")
    return quick_train(work.store, run), [run]


def failed_resume(work: Workspace) -> tuple[list[str], list[Path]]:
    run = work.copy_run("failed-resume")
    (run / "training_state.safetensors").write_bytes(b"not a checkpoint")
    return [tool("upt-train"), "--resume", str(run), "training.lr=0.5"], [run]


def partial_metrics_line(work: Workspace) -> tuple[list[str], list[Path]]:
    run = work.copy_run("partial-metrics")
    with open(run / "metrics.jsonl", "a") as metrics:
        metrics.write('{"step": 99, "loss/ne')
    return [tool("upt-train"), "--resume", str(run), "training.max_steps=6"], []


def stale_temporary_files(work: Workspace) -> tuple[list[str], list[Path]]:
    run = work.copy_run("stale-tmp")
    (run / "model.safetensors.tmp").write_bytes(b"half a file")
    return [tool("upt-train"), "--resume", str(run), "training.max_steps=6"], []


def nan_before_checkpoint(work: Workspace) -> tuple[list[str], list[Path]]:
    run = work.root / "nan-run"
    return quick_train(work.store, run, "training.lr=1e30", "training.max_steps=6"), []


def train_with(*overrides: str) -> Callable[[Workspace], tuple[list[str], list[Path]]]:
    def prepare(work: Workspace) -> tuple[list[str], list[Path]]:
        slug = short_hash(*overrides)
        return quick_train(work.store, work.root / f"run-{slug}", *overrides), [work.store]

    return prepare


def new_store_with(*overrides: str) -> Callable[[Workspace], tuple[list[str], list[Path]]]:
    def prepare(work: Workspace) -> tuple[list[str], list[Path]]:
        slug = short_hash(*overrides)
        store = work.root / f"new-{slug}.zarr"
        return quick_train(store, work.root / f"run-new-{slug}", *overrides), []

    return prepare


def generate(*arguments: str) -> Callable[[Workspace], tuple[list[str], list[Path]]]:
    def prepare(work: Workspace) -> tuple[list[str], list[Path]]:
        slug = short_hash(*arguments)
        out = str(work.root / f"gen-{slug}.zarr")
        values = [value.replace("{out}", out) for value in arguments]
        return [tool("upt-data"), "generate", *values], []

    return prepare


def config_file(text: str) -> Callable[[Workspace], tuple[list[str], list[Path]]]:
    def prepare(work: Workspace) -> tuple[list[str], list[Path]]:
        path = work.root / f"config-{short_hash(text)}.yaml"
        path.write_text(text)
        return [tool("upt-train"), str(path), "--run-dir", str(work.root / "run-from-file")], []

    return prepare


def config_directory(work: Workspace) -> tuple[list[str], list[Path]]:
    folder = work.root / "a-folder.yaml"
    folder.mkdir(exist_ok=True)
    return [tool("upt-train"), str(folder)], []


def run_dir_is_a_file(work: Workspace) -> tuple[list[str], list[Path]]:
    path = work.root / "plain-file"
    path.write_text("keep me\n")
    return quick_train(work.store, path), [path]


def forged_checkpoint(setting: str) -> Callable[[Workspace], tuple[list[str], list[Path]]]:
    """A run folder whose model file claims a config it does not hold (or holds NaN)."""

    def prepare(work: Workspace) -> tuple[list[str], list[Path]]:
        run = work.copy_run(f"forged-{setting.replace('.', '-')}")
        with safe_open(str(run / "model.safetensors"), "np") as handle:
            metadata = dict(handle.metadata())
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
        config = json.loads(metadata["config"])
        if setting == "nan weights":
            name = next(iter(tensors))
            tensors[name] = np.full_like(tensors[name], np.nan)
        elif setting == "embed_scale nan":
            config["embed_scale"] = float("nan")
        else:
            config["encoder"]["dim"] = int(setting.split("=")[1])
        metadata["config"] = json.dumps(config)
        save_file(tensors, str(run / "model.safetensors"), metadata=metadata)
        return [tool("upt-train"), "evaluate", str(run), "--store", str(work.store)], []

    return prepare


def evaluate_with(*arguments: str) -> Callable[[Workspace], tuple[list[str], list[Path]]]:
    def prepare(work: Workspace) -> tuple[list[str], list[Path]]:
        values = [value.replace("{store}", str(work.store)) for value in arguments]
        return [tool("upt-train"), "evaluate", str(work.run), *values], [work.run]

    return prepare


def pdebench_file(kind: str) -> Callable[[Workspace], tuple[list[str], list[Path]]]:
    def prepare(work: Workspace) -> tuple[list[str], list[Path]]:
        path = work.root / f"pdebench-{kind}.hdf5"
        count = 0 if kind == "empty" else 10
        values = np.random.default_rng(0).normal(size=(count, 5, 16)).astype(np.float32)
        if kind == "complex":
            values = values + 1j * values
        with h5py.File(path, "w") as handle:
            handle["tensor"] = values
            handle["x-coordinate"] = np.linspace(0, 1, 16, endpoint=False)
            handle["t-coordinate"] = np.linspace(0, 1, 6)
        viscosity = "-0.01" if kind == "negative viscosity" else "0.01"
        out = work.root / f"imported-{kind.replace(' ', '-')}.zarr"
        command = [tool("upt-data"), "import", "pdebench", str(path), "--out", str(out)]
        return [*command, "--viscosity", viscosity], []

    return prepare


def pdebench_constant(work: Workspace) -> tuple[list[str], list[Path]]:
    path = work.root / "pdebench-constant.hdf5"
    with h5py.File(path, "w") as handle:
        handle["tensor"] = np.ones((10, 5, 16), dtype=np.float32)
        handle["x-coordinate"] = np.linspace(0, 1, 16, endpoint=False)
        handle["t-coordinate"] = np.linspace(0, 1, 6)
    out = work.root / "imported-constant.zarr"
    command = [tool("upt-data"), "import", "pdebench", str(path), "--out", str(out)]
    return [*command, "--viscosity", "0.01"], []


CASES = [
    # 1-2: run folders
    Case("--run-dir on an existing run", "run folders", existing_run),
    Case("failed --resume with an override", "run folders", failed_resume),
    Case("--run-dir is a file", "run folders", run_dir_is_a_file),
    Case("resume after a partial metrics line", "run folders", partial_metrics_line, False),
    Case("resume with a stale .tmp file", "run folders", stale_temporary_files, False),
    Case("NaN loss before the first checkpoint", "run folders", nan_before_checkpoint),
    # 3: damaged stores
    *(
        Case(f"train on a {how} chunk", "damaged stores", damaged_store(how))
        for how in ("zero-byte", "truncated", "garbage", "deleted")
    ),
    *(
        Case(f"info --check on a {how} chunk", "damaged stores", damaged_store_info(how))
        for how in ("zero-byte", "truncated", "garbage", "deleted")
    ),
    Case("test split of 0 trajectories", "damaged stores", new_store_with("data.num_test=0")),
    Case("store made for another viscosity", "damaged stores", train_with("data.viscosity=0.5")),
    # 4: sizes
    Case(
        "10^9 trajectories",
        "sizes",
        generate("burgers", "--out", "{out}", "--num-train", "1000000000"),
        timeout=60,
    ),
    Case(
        "resolution 2^30",
        "sizes",
        generate("burgers", "--out", "{out}", "--resolution", str(2**30)),
        timeout=60,
    ),
    Case("batch size 10^9", "sizes", train_with("training.batch_size=1000000000"), timeout=60),
    Case("unroll 10^6 steps", "sizes", train_with("training.unroll_steps=1000000"), timeout=60),
    Case("checkpoint claiming dim=4096", "sizes", forged_checkpoint("dim=4096"), timeout=60),
    Case("checkpoint claiming dim=65536", "sizes", forged_checkpoint("dim=65536"), timeout=60),
    # 5 and the rest: bad input
    Case("checkpoint with NaN weights", "bad input", forged_checkpoint("nan weights")),
    Case("checkpoint with embed_scale NaN", "bad input", forged_checkpoint("embed_scale nan")),
    Case("config name with ../", "bad input", train_with("name=../../escape")),
    Case("unknown preset", "bad input", train_with("model.preset=nonsense")),
    Case("training.seed=-1", "bad input", train_with("training.seed=-1")),
    Case("generate --seed -1", "bad input", generate("burgers", "--out", "{out}", "--seed", "-1")),
    Case(
        "generate --viscosity 0",
        "bad input",
        generate("burgers", "--out", "{out}", "--viscosity", "0"),
    ),
    Case("generate --out /proc/x", "bad input", generate("burgers", "--out", "/proc/x/store.zarr")),
    Case(
        "unknown fsspec protocol",
        "bad input",
        generate("burgers", "--out", "nosuchprotocol://b/s.zarr"),
    ),
    Case(
        "ns2d --min-points > --max-points",
        "bad input",
        generate("ns2d", "--out", "{out}", "--min-points", "500", "--max-points", "100"),
    ),
    Case("empty YAML config", "bad input", config_file("")),
    Case("YAML config of a list", "bad input", config_file("- 1\n- 2\n")),
    Case("config path is a folder", "bad input", config_directory),
    Case("unknown config key", "bad input", train_with("training.lamda_inv_enc=0.1")),
    Case("lr=nan", "bad input", train_with("training.lr=.nan")),
    Case("evaluate a missing store", "bad input", evaluate_with("--store", "/nonexistent/s.zarr")),
    Case(
        "evaluate an unknown split",
        "bad input",
        evaluate_with("--store", "{store}", "--split", "nope"),
    ),
    Case("PDEBench file of 0 trajectories", "bad input", pdebench_file("empty")),
    Case("PDEBench complex data", "bad input", pdebench_file("complex")),
    Case("PDEBench negative viscosity", "bad input", pdebench_file("negative viscosity")),
    Case("PDEBench constant field", "bad input", pdebench_constant),
]


@dataclass(frozen=True)
class Outcome:
    case: Case
    kind: str
    code: int | None
    seconds: float
    message: str


def classify(case: Case, code: int | None, stderr: str, unchanged: bool) -> str:
    if not unchanged:
        return "damaged"
    if "Traceback (most recent call last)" in stderr:
        return "traceback"
    if code is None:
        return "silent"
    if not case.bad_input:
        return "handled" if code == 0 else "traceback"
    if code == 0:
        return "silent"
    return "clear error" if code == 2 and ": error: " in last_line(stderr) else "traceback"


def last_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1][:160] if lines else ""


def run_case(case: Case, work: Workspace) -> Outcome:
    command, protected = case.prepare(work)
    before = [folder_digest(p) if p.is_dir() else p.read_bytes() for p in protected]
    started = time.perf_counter()
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    try:
        finished = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=case.timeout,
            cwd=work.root,
            env=environment,
        )
        code, stderr = finished.returncode, finished.stderr
    except subprocess.TimeoutExpired as expired:
        code, stderr = None, (expired.stderr or b"").decode(errors="replace")
    seconds = time.perf_counter() - started
    after = [folder_digest(p) if p.is_dir() else p.read_bytes() for p in protected]
    kind = classify(case, code, stderr, before == after)
    return Outcome(case, kind, code, seconds, last_line(stderr))


def prepare_workspace(root: Path) -> Workspace:
    """The shared store and a finished 3-step run, through the commands themselves."""
    work = Workspace(root)
    subprocess.run(quick_train(work.store, work.run), check=True, capture_output=True, cwd=root)
    return work


def report(outcomes: list[Outcome]) -> str:
    counts = Counter(outcome.kind for outcome in outcomes)
    lines = [
        f"{len(outcomes)} cases: " + ", ".join(f"{kind} {counts[kind]}" for kind in OUTCOMES),
        "",
        "| case | group | outcome | exit | seconds | last line of stderr |",
        "|---|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        message = outcome.message.replace("|", "\\|")
        lines.append(
            f"| {outcome.case.name} | {outcome.case.group} | {outcome.kind} | {outcome.code} "
            f"| {outcome.seconds:.1f} | {message} |"
        )
    return "\n".join(lines) + "\n"


def run_all(root: Path, progress: bool = True) -> list[Outcome]:
    from tqdm import tqdm

    root.mkdir(parents=True, exist_ok=True)
    work = prepare_workspace(root)
    bar = tqdm(CASES, desc="adversary", unit="case", disable=not progress, dynamic_ncols=True)
    outcomes = []
    for case in bar:
        bar.set_postfix_str(case.name)
        outcomes.append(run_case(case, work))
    return outcomes
