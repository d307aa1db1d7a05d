"""What a finished run leaves behind: summary.json, PNG plots, and the table printed at the end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from upt_train.checkpointing import atomic_write
from upt_train.evaluate import Evaluation
from upt_train.plots import plot_losses, plot_nrmse_per_step, plot_rollout, plot_snapshots
from upt_train.trajectories import Trajectories

SUMMARY_FILE = "summary.json"

ROWS = [
    ("one_step_nrmse", "one-step nRMSE"),
    ("persistence_one_step_nrmse", "one-step nRMSE of persistence, u(t+1) = u(t)"),
    ("reconstruction_nrmse", "reconstruction nRMSE, decode(encode(u))"),
    ("latent_rollout_nrmse", "latent rollout nRMSE"),
    ("autoregressive_rollout_nrmse", "autoregressive rollout nRMSE"),
    ("persistence_rollout_nrmse", "rollout nRMSE of persistence (first frame held)"),
    ("latent_correlation_steps", "correlation time, latent (steps)"),
    ("latent_correlation_time", "correlation time, latent (time units)"),
    ("autoregressive_correlation_steps", "correlation time, autoregressive (steps)"),
    ("autoregressive_correlation_time", "correlation time, autoregressive (time units)"),
]


def read_metrics(path: Path) -> list[dict[str, float]]:
    """The rows of metrics.jsonl; a last line cut short by a kill is skipped."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def write_report(
    run_dir: Path,
    evaluation: Evaluation,
    data: Trajectories,
    history: list[dict[str, float]],
    extra: dict[str, Any],
    num_plotted: int,
) -> dict[str, Any]:
    """Write summary.json and the plots into `run_dir` (loss curves only with a `history`);
    return the summary."""
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    if history:
        plot_losses(history, plots / "losses.png")
    step_time = float(evaluation.scalars["step_time"])
    curves = {
        f"{mode} rollout": values.numpy() for mode, values in evaluation.nrmse_per_step.items()
    }
    plot_nrmse_per_step(curves, step_time, plots / "nrmse_per_step.png")
    steps = evaluation.truth.shape[1]
    times = data.times[1 : steps + 1].cpu().numpy()
    plotted = range(min(num_plotted, len(evaluation.truth)))
    if data.inputs.coords.shape[-1] == 1:
        coords = data.inputs.coords[0, :, 0].cpu().numpy()
        for index in plotted:
            predictions = {
                f"{mode} rollout": r[index, :, :, 0].numpy()
                for mode, r in evaluation.rollouts.items()
            }
            plot_rollout(
                evaluation.truth[index, :, :, 0].numpy(),
                predictions,
                coords,
                times,
                plots / f"rollout_{index}.png",
                f"Test trajectory {index}",
            )
    else:
        _plot_grid_snapshots(evaluation, data, times, plotted, plots)
    summary = {**evaluation.scalars, **extra}
    atomic_write(
        run_dir / SUMMARY_FILE, lambda tmp: tmp.write_text(json.dumps(summary, indent=2) + "\n")
    )
    return summary


def _plot_grid_snapshots(
    evaluation: Evaluation, data: Trajectories, times, plotted: range, plots: Path
) -> None:
    """2D data: truth, latent rollout and error on the first square grid it was decoded at."""
    for label, rollout in evaluation.resolution_rollouts.items():
        side = round(rollout.shape[2] ** 0.5)
        if side * side != rollout.shape[2]:
            continue
        truth = data.denormalize(data.resolutions[label].values)[:, 1 : rollout.shape[1] + 1]
        for index in plotted:
            plot_snapshots(
                truth[index, ..., 0].reshape(-1, side, side).cpu().numpy(),
                rollout[index, ..., 0].reshape(-1, side, side).numpy(),
                times,
                plots / f"rollout_{index}.png",
                f"Test trajectory {index}: latent rollout on the {label} grid",
            )
        return


def _format(value: Any) -> str:
    if value is None:
        return "beyond the horizon"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_summary(summary: dict[str, Any], run_dir: Path) -> str:
    """A plain table of the headline numbers, for the terminal."""
    rows = [(label, _format(summary[key])) for key, label in ROWS if key in summary]
    rows += [
        (f"nRMSE decoded at {key.rsplit('_', 1)[-1]} ({kind})", _format(value))
        for key, value in summary.items()
        for prefix, kind in (("one_step_nrmse_", "one step"), ("latent_rollout_nrmse_", "latent"))
        if key.startswith(prefix)
    ]
    rows += [
        ("rollout steps", _format(summary.get("rollout_steps"))),
        ("parameters", _format(summary.get("parameters"))),
        ("training steps", _format(summary.get("training_steps"))),
        ("wall time (s)", _format(summary.get("wall_seconds"))),
        ("run folder", str(run_dir)),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    rule = "-" * max(len(line) for line in lines)
    return "\n".join([rule, *lines, rule])
