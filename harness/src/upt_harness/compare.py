"""`compare burgers`: every entry, every seed, first at an equal step budget, then at an equal
wall-clock budget; results.json, leaderboard.md and plots in the output folder."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from upt_data import FieldStore
from upt_harness.entries import Ablation, Entry, entries_for
from upt_harness.jobs import Job, launch
from upt_harness.leaderboard import write_leaderboard
from upt_harness.plots import plot_error_vs_wall_time, plot_nrmse_per_step
from upt_train import Persistence, RunConfig, ensure_store, evaluate, load_config, trajectories_for

RESULTS_FILE = "results.json"


@dataclass(frozen=True)
class Settings:
    """What the command line chose. None for steps / seconds: the config's steps, and the golden
    entry's mean training time at that step budget."""

    out: Path
    workload: str = "burgers"
    config: str = "burgers"
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int | None = None
    seconds: float | None = None
    ablation: Ablation = "tied"
    peers: bool = True
    quick: bool = False
    threads: int = 1
    device: str = "cpu"


def base_overrides(settings: Settings) -> list[str]:
    """Overrides every job shares: the device, per-step logging, the step budget; quick runs
    keep their tiny store inside the output folder. Point-cloud entries are scored at the clouds
    and on the stored grid, which every entry shares; super-resolution is upt-train's own."""
    overrides = [f"device={settings.device}", "training.log_every=1"]
    if settings.workload == "ns2d":
        overrides.append("eval.super_resolution=[]")
    if settings.quick:
        overrides.append(f"data.store={settings.out / 'store.zarr'}")
    if settings.steps is not None:
        overrides.append(f"training.max_steps={settings.steps}")
    return overrides


def persistence(config: RunConfig, store: FieldStore) -> dict[str, Any]:
    """Persistence scored by upt-train's evaluator on the test split, as every entry is."""
    trajectories = trajectories_for(config, store, "test", store.normalization, torch.device("cpu"))
    scalars = evaluate(
        Persistence(),
        trajectories,
        correlation_threshold=config.eval.correlation_threshold,
        rollout_steps=config.eval.rollout_steps,
    ).scalars
    return {
        key: scalars[key]
        for key in (
            "one_step_nrmse",
            "autoregressive_rollout_nrmse",
            "autoregressive_correlation_steps",
            "rollout_steps",
        )
    }


def peers_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("neuralop") is not None


def run_jobs(jobs: list[Job], label: str) -> list[dict[str, Any]]:
    results = []
    bar = tqdm(jobs, desc=label, unit="run", dynamic_ncols=True)
    for job in bar:
        bar.set_postfix_str(f"{job.entry.name}, seed {job.seed}, {job.steps} steps")
        result = launch(job)
        results.append({"entry": job.entry.name, "seed": job.seed, "budget": job.budget, **result})
    return results


def make_job(
    settings: Settings,
    entry: Entry,
    seed: int,
    budget: str,
    steps: int,
    warmup: int,
    base: list[str],
) -> Job:
    slug = "".join(c if c.isalnum() else "-" for c in entry.name.lower()).strip("-")
    overrides = (
        *base,
        *entry.overrides,
        f"training.seed={seed}",
        f"training.max_steps={steps}",
        f"training.warmup_steps={warmup}",
        f"training.checkpoint_every={steps}",
    )
    return Job(
        entry=entry,
        config=settings.config,
        overrides=overrides,
        seed=seed,
        budget=budget,
        steps=steps,
        work_dir=str(settings.out / "jobs" / budget / f"{slug}-seed{seed}"),
        threads=settings.threads,
    )


def wall_clock_steps(result: dict[str, Any], seconds: float, floor: int = 1) -> int:
    """Steps that fill `seconds` at the entry's own measured seconds per step."""
    per_step = result["loop_seconds"] / result["steps"]
    return max(floor, round(seconds / per_step))


def compare(settings: Settings) -> Path:
    """Run the comparison and write its outputs; return the leaderboard's path."""
    settings.out.mkdir(parents=True, exist_ok=True)
    base = base_overrides(settings)
    config = load_config(settings.config, base)
    store = ensure_store(config.data, progress=True)
    peers = settings.peers and peers_available()
    notes = []
    if settings.peers and not peers:
        notes.append("FNO skipped: neuraloperator is not installed (uv sync --group peers).")
    entries = entries_for(settings.workload, settings.ablation, peers, settings.quick)
    steps, warmup = config.training.max_steps, config.training.warmup_steps

    step_jobs = [
        make_job(settings, entry, seed, "steps", steps, warmup, base)
        for entry in entries
        for seed in settings.seeds
    ]
    results = run_jobs(step_jobs, "equal steps")
    golden = [r for r in results if r["entry"] == entries[0].name and "error" not in r]
    seconds = settings.seconds
    if seconds is None:
        seconds = statistics.mean(r["loop_seconds"] for r in golden) if golden else 60.0
    by_key = {(r["entry"], r["seed"]): r for r in results if "error" not in r}
    wall_jobs = []
    for entry in entries:
        for seed in settings.seeds:
            if (entry.name, seed) in by_key:
                count = wall_clock_steps(by_key[entry.name, seed], seconds)
                scaled_warmup = min(round(warmup * count / steps), count - 1)
                wall_jobs.append(
                    make_job(settings, entry, seed, "seconds", count, scaled_warmup, base)
                )
    results += run_jobs(wall_jobs, f"equal wall clock ({seconds:.3g} s)")

    context = {
        "config": settings.config,
        "config_values": config.to_dict(),
        "seeds": list(settings.seeds),
        "steps": steps,
        "seconds": seconds,
        "ablation": settings.ablation,
        "quick": settings.quick,
        "threads": settings.threads,
        "store": {
            "url": store.url,
            "viscosity": store.viscosity,
            **{split: store.num_trajectories(split) for split in ("train", "test")},
            "points": len(store.coords),
        },
        "entries": [{"name": e.name, "description": e.description} for e in entries],
        "persistence": persistence(config, store),
        "notes": notes,
    }
    (settings.out / RESULTS_FILE).write_text(
        json.dumps({"context": context, "results": results}, indent=1) + "\n"
    )
    plots = settings.out / "plots"
    plots.mkdir(exist_ok=True)
    plot_nrmse_per_step(results, [e.name for e in entries], plots / "nrmse_per_step.png")
    plot_error_vs_wall_time(results, [e.name for e in entries], plots / "error_vs_wall_time.png")
    return write_leaderboard(settings.out, context, results)
