"""leaderboard.md: mean and spread over seeds of every entry, one table per budget."""

from __future__ import annotations

import platform
import statistics
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

LEADERBOARD_FILE = "leaderboard.md"

# (result key, column heading, format)
COLUMNS = [
    ("one_step_nrmse", "one-step nRMSE", ".4f"),
    ("reconstruction_nrmse", "reconstruction nRMSE", ".4f"),
    ("latent_rollout_nrmse", "latent rollout nRMSE", ".4f"),
    ("autoregressive_rollout_nrmse", "autoregressive rollout nRMSE", ".4f"),
    ("latent_correlation_steps", "corr. time, latent (steps)", ".1f"),
    ("autoregressive_correlation_steps", "corr. time, autoregr. (steps)", ".1f"),
    ("step_ms", "step time (ms)", ".0f"),
    ("loop_seconds", "training (s)", ".0f"),
    ("peak_rss_mib", "peak RSS (MiB)", ".0f"),
]
# Point-cloud workloads add the figures on the store's full grid (FNO: its own inputs).
GRID_COLUMNS = [
    ("grid_one_step_nrmse", "one-step nRMSE, full grid", ".4f"),
    ("grid_rollout_nrmse", "rollout nRMSE, full grid", ".4f"),
]
BUDGETS = {
    "steps": "Equal step budget",
    "seconds": "Equal wall-clock budget",
}


def _values(rows: Sequence[dict[str, Any]], key: str) -> list[float] | None:
    """The key's values over seeds; a correlation time that never fell below the threshold counts
    as the horizon. None when the entry has no such figure (an FNO has no latent rollout)."""
    values = []
    for row in rows:
        value = row.get(key)
        if key == "step_ms":
            value = 1000 * row["loop_seconds"] / row["steps"]
        if value is None and key == "reconstruction_nrmse":
            return None
        if value is None and key.endswith("correlation_steps"):
            if key.startswith("latent") and row.get("latent_rollout_nrmse") is None:
                return None
            value = row["rollout_steps"]
        if value is None:
            return None
        values.append(float(value))
    return values


def mean_and_spread(values: Sequence[float], fmt: str) -> str:
    """'mean ± standard deviation' over seeds (just the mean for one seed)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return format(mean, fmt)
    return f"{mean:{fmt}} ± {statistics.stdev(values):{fmt}}"


def _cell(rows: Sequence[dict[str, Any]], key: str, fmt: str) -> str:
    values = _values(rows, key)
    if values is None:
        return "n/a"
    text = mean_and_spread(values, fmt)
    if key.endswith("correlation_steps") and any(r.get(key) is None for r in rows):
        text = "≥ " + text
    return text


def columns(results: Sequence[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """The table's columns: the grid ones only when some run has them."""
    gridded = any(r.get("grid_one_step_nrmse") is not None for r in results)
    return COLUMNS + GRID_COLUMNS if gridded else COLUMNS


def persistence_row(figures: dict[str, Any], shown: list[tuple[str, str, str]]) -> str:
    """The untrained baseline's row: u(t + 1) = u(t), and the first frame held for rollouts."""
    values = {
        **figures,
        "latent_rollout_nrmse": None,
        "latent_correlation_steps": None,
        "reconstruction_nrmse": None,
    }
    cells = ["persistence (no training)", "0", "0"]
    for key, _, fmt in shown:
        value = values.get(key)
        if key == "autoregressive_correlation_steps" and value is None:
            cells.append(f"≥ {values['rollout_steps']}")
        else:
            cells.append("n/a" if value is None else format(value, fmt))
    return "| " + " | ".join(cells) + " |"


def table(
    results: Sequence[dict[str, Any]],
    budget: str,
    order: Sequence[str],
    persistence: dict[str, Any] | None = None,
) -> list[str]:
    """A markdown table of one budget's runs, an entry a row; persistence last when given."""
    shown = columns(results)
    head = ["entry", "params", "steps", *(heading for _, heading, _ in shown)]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name in order:
        rows = [r for r in results if r["entry"] == name and r["budget"] == budget]
        good = [r for r in rows if "error" not in r]
        if not good:
            reason = rows[0]["error"] if rows else "not run"
            lines.append(f"| {name} | failed: {reason} |" + " |" * (len(head) - 2))
            continue
        steps = sorted({r["steps"] for r in good})
        step_text = str(steps[0]) if len(steps) == 1 else f"{steps[0]}-{steps[-1]}"
        cells = [name, f"{good[0]['parameters']:,}", step_text]
        cells += [_cell(good, key, fmt) for key, _, fmt in shown]
        if len(good) < len(rows):
            cells[0] += f" ({len(rows) - len(good)} seed(s) failed)"
        lines.append("| " + " | ".join(cells) + " |")
    if persistence is not None:
        lines.append(persistence_row(persistence, shown))
    return lines


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_leaderboard(out: Path, context: dict[str, Any], results: list[dict[str, Any]]) -> Path:
    """Write leaderboard.md into `out` and return its path."""
    order = [entry["name"] for entry in context["entries"]]
    data, store = context["config_values"]["data"], context["store"]
    training = context["config_values"]["training"]
    clouds = data.get("points") == "cloud"
    training_points = (
        f"point clouds of {data['min_points']}-{data['max_points']} points per trajectory"
        if clouds
        else f"{data['train_resolution'] or data['resolution']} training points"
    )
    cloud_notes = [
        "- point clouds: every model but the FNO sees each trajectory's own irregular cloud and "
        "is scored there; the FNO cannot take clouds and gets the store's full regular grid "
        "instead, an advantage. The 'full grid' columns score the cloud models decoded at every "
        "grid node (UPT: one step, and the latent rollout) and the FNO on its own grid"
    ]
    lines = [
        f"# Leaderboard: {context['config']}" + (" (--quick)" if context["quick"] else ""),
        "",
        f"- commit {commit()}, torch {torch.__version__}, Python {platform.python_version()}, "
        f"{platform.machine()}, {context['threads']} thread(s) per run, one run at a time",
        f"- data: {store['url']} (nu = {store['viscosity']}, {store['train']} train / "
        f"{store['test']} test trajectories of {store['points']} points), "
        f"{training_points}, batch {training['batch_size']}, lr {training['lr']}",
        f"- seeds {context['seeds']}: each cell is the mean ± standard deviation over seeds",
        f"- equal steps: {context['steps']} optimizer steps each; equal wall clock: each entry "
        f"trains for about {context['seconds']:.3g} s (its step count set from its own step time "
        "in the first table, warm-up scaled to match)",
        "- UPT entries are the config above with the overrides named below; the golden config is "
        "this config with `training.use_upt_inverse_losses=false`"
        + ("" if clouds else " (on a GPU, `configs/burgers_golden.yaml` is the golden config)"),
        "- nRMSE is PDEBench's, in physical units, on the whole test split at the training grid; "
        "rollouts start from the true first frame and run over every stored frame; the "
        "correlation time is the first step whose correlation falls below "
        f"{context['config_values']['eval']['correlation_threshold']} (≥: some seeds never did)",
        "- autoregressive rollout: UPT decodes and re-encodes each step; the FNO feeds its "
        "output back. Latent rollout: UPT only. Persistence predicts each frame by the one before "
        "it and holds the first frame for the rollout: the floor a trained model must beat",
        "- reconstruction nRMSE: UPT's decode(encode(u)) over every test frame, the floor under "
        "anything it predicts through its latent (peers have no autoencoder)",
        "- training (s): the training loop's own time (batches, forward, backward, optimizer; "
        "no set-up, checkpoint or evaluation); step time: that / steps; peak RSS: the job "
        "subprocess's ru_maxrss at the end of training, interpreter and torch included",
        *(cloud_notes if clouds else []),
        *(f"- note: {note}" for note in context["notes"]),
        "",
        "## Entries",
        "",
        *(f"- **{e['name']}**: {e['description']}" for e in context["entries"]),
    ]
    for budget, title in BUDGETS.items():
        lines += ["", f"## {title}", "", *table(results, budget, order, context.get("persistence"))]
    lines += [
        "",
        "Plots: `plots/nrmse_per_step.png` (nRMSE against rollout step, every entry, equal "
        "steps), `plots/error_vs_wall_time.png` (test error against training time; training "
        "loss against wall time). Raw per-seed figures: `results.json`.",
        "",
    ]
    path = out / "leaderboard.md"
    path.write_text("\n".join(lines))
    return path
