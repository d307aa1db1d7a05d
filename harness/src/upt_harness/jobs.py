"""One training run of one entry at one seed, in its own subprocess.

A subprocess per job keeps the entries apart: each peak-memory figure is that entry's own, and
nothing (allocator caches, threads, imported peers) leaks from one entry into the next. The parent
writes `job.json`, runs `python -m upt_harness.jobs job.json`, and reads `result.json`; the child's
output goes to `log.txt` beside them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from upt_harness.entries import Entry

RESULT_FILE = "result.json"


@dataclass(frozen=True)
class Job:
    """`overrides` are complete: the base config's, the entry's, the seed's and the budget's."""

    entry: Entry
    config: str
    overrides: tuple[str, ...]
    seed: int
    budget: Literal["steps", "seconds"]
    steps: int
    work_dir: str
    threads: int

    @property
    def result_path(self) -> Path:
        return Path(self.work_dir) / RESULT_FILE


def launch(job: Job) -> dict[str, Any]:
    """Run `job` in a subprocess and return its result (with an `error` key if it failed)."""
    folder = Path(job.work_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "job.json").write_text(json.dumps(asdict(job), indent=2) + "\n")
    environment = {
        **os.environ,
        "OMP_NUM_THREADS": str(job.threads),
        "MKL_NUM_THREADS": str(job.threads),
    }
    started = time.perf_counter()
    with open(folder / "log.txt", "w") as log:
        code = subprocess.call(
            [sys.executable, "-m", "upt_harness.jobs", str(folder / "job.json")],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    if code != 0 or not job.result_path.is_file():
        tail = (folder / "log.txt").read_text().strip().splitlines()[-3:]
        return {"error": f"exit {code}: " + " | ".join(tail)}
    result = json.loads(job.result_path.read_text())
    result["job_seconds"] = time.perf_counter() - started
    return result


def run_in_this_process(job: Job) -> dict[str, Any]:
    """The child's side: build the config, dispatch to the entry's runner."""
    from upt_harness.fno_runner import run_fno
    from upt_harness.upt_runner import run_upt
    from upt_train.config import load_config

    torch.set_num_threads(job.threads)
    config = load_config(job.config, list(job.overrides))
    device = torch.device("cuda" if config.device == "cuda" else "cpu")
    if config.device == "auto" and torch.cuda.is_available():
        device = torch.device("cuda")
    run_dir = Path(job.work_dir) / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    if job.entry.runner == "upt":
        result = run_upt(config, run_dir, device)
    else:
        result = run_fno(config, run_dir, device, job.entry.options)
    for name in ("model.safetensors", "training_state.safetensors"):
        (run_dir / name).unlink(missing_ok=True)
    return {
        "entry": job.entry.name,
        "seed": job.seed,
        "budget": job.budget,
        "steps": config.training.max_steps,
        "device": device.type,
        **result,
    }


def main(argv: list[str] | None = None) -> int:
    (path,) = argv if argv is not None else sys.argv[1:]
    values = json.loads(Path(path).read_text())
    entry = values.pop("entry")
    entry["overrides"] = tuple(entry["overrides"])
    job = Job(entry=Entry(**entry), **{**values, "overrides": tuple(values["overrides"])})
    try:
        result = run_in_this_process(job)
    except Exception:
        traceback.print_exc()
        return 1
    job.result_path.write_text(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
