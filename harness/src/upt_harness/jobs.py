"""One training run of one entry at one seed, in its own subprocess.

A subprocess per job keeps the entries apart: each peak-memory figure is that entry's own, and
nothing (allocator caches, threads, imported peers) leaks from one entry into the next. The parent
writes `job.json`, runs `python -m upt_harness.jobs job.json`, and reads `result.json`; the child's
output goes to `log.txt` beside them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from upt_harness.entries import Entry
from upt_train import read_metrics

RESULT_FILE = "result.json"
# The result as the parent saw it (with its job_seconds); its presence marks the job done.
FINISHED_FILE = "finished.json"
# What a job reports from its run's summary.json (latent figures are None for peers without one).
SUMMARY_KEYS = (
    "parameters",
    "train_seconds",
    "loop_seconds",
    "peak_rss_mib",
    "peak_cuda_mib",
    "one_step_nrmse",
    "reconstruction_nrmse",
    "latent_rollout_nrmse",
    "autoregressive_rollout_nrmse",
    "latent_correlation_steps",
    "autoregressive_correlation_steps",
    "rollout_steps",
    "step_time",
)


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
    """Run `job` in a subprocess and return its result (with an `error` key if it failed).

    A job whose folder already holds a result for the same `job.json` is not run again, so an
    interrupted comparison picks up where it stopped.
    """
    folder = Path(job.work_dir)
    folder.mkdir(parents=True, exist_ok=True)
    description = json.dumps(asdict(job), indent=2) + "\n"
    finished = folder / FINISHED_FILE
    if finished.is_file() and (folder / "job.json").read_text() == description:
        return json.loads(finished.read_text())
    finished.unlink(missing_ok=True)
    job.result_path.unlink(missing_ok=True)
    shutil.rmtree(folder / "run", ignore_errors=True)  # what an interrupted attempt left
    (folder / "job.json").write_text(description)
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
    finished.write_text(json.dumps(result) + "\n")
    return result


def grid_figures(summary: dict[str, Any], config: Any) -> dict[str, Any]:
    """On a point-cloud workload, the figures on the store's full grid under one name for every
    entry: a cloud model decoded there (`*_64x64`), a grid model (the FNO) on its own inputs."""
    if config.data.equation != "ns2d":
        return {}
    side = config.data.resolution
    if config.data.points == "grid":
        return {
            "grid_one_step_nrmse": summary.get("one_step_nrmse"),
            "grid_rollout_nrmse": summary.get("autoregressive_rollout_nrmse"),
        }
    return {
        "grid_one_step_nrmse": summary.get(f"one_step_nrmse_{side}x{side}"),
        "grid_rollout_nrmse": summary.get(f"latent_rollout_nrmse_{side}x{side}"),
    }


def run_in_this_process(job: Job) -> dict[str, Any]:
    """The child's side: build the config, train and evaluate through upt-train's `run`."""
    from upt_harness.fno import fno_learner
    from upt_harness.gino import gino_learner
    from upt_train import Distributed, load_config, run, upt_learner

    torch.set_num_threads(job.threads)
    config = load_config(job.config, list(job.overrides))
    device = torch.device("cuda" if config.device == "cuda" else "cpu")
    if config.device == "auto" and torch.cuda.is_available():
        device = torch.device("cuda")
    run_dir = Path(job.work_dir) / "run"
    learners = {"upt": lambda: upt_learner, "fno": lambda: fno_learner(job.entry.options)}
    learners["gino"] = lambda: gino_learner(job.entry.options)
    learner = learners[job.entry.runner]()
    world = Distributed(rank=0, world_size=1, device=device)
    result = run(config, run_dir, progress=False, world=world, learner=learner)
    for name in ("model.safetensors", "training_state.safetensors"):
        (run_dir / name).unlink(missing_ok=True)
    history = [
        (row["loop_seconds"], row["loss/next_step"])
        for row in read_metrics(run_dir / "metrics.jsonl")
    ]
    curves = {mode: curve.tolist() for mode, curve in result.evaluation.nrmse_per_step.items()}
    return {
        "entry": job.entry.name,
        "seed": job.seed,
        "budget": job.budget,
        "steps": config.training.max_steps,
        "device": device.type,
        **{key: result.summary.get(key) for key in SUMMARY_KEYS},
        **grid_figures(result.summary, config),
        "curves": curves,
        "history": history,
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
