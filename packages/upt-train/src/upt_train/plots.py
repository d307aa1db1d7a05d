"""PNG plots of a run: loss curves, space-time rollouts, nRMSE against rollout step.

Uses matplotlib's object API (no pyplot), so it needs no display and keeps no global state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

LOSS_TERMS = {
    "loss/next_step": "next step",
    "loss/inv_enc": "inverse encoding (weighted)",
    "loss/inv_dec": "inverse decoding (weighted)",
    "loss/latent": "latent consistency (weighted)",
    "loss/total": "total",
}


def plot_losses(history: Sequence[Mapping[str, float]], path: Path) -> None:
    """Each loss term against the optimizer step, on a log scale."""
    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.subplots()
    for key, label in LOSS_TERMS.items():
        rows = [row for row in history if key in row]
        if rows:
            axes.plot([r["step"] for r in rows], [r[key] for r in rows], label=label)
    axes.set(xlabel="optimizer step", ylabel="loss", yscale="log", title="Training losses")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.savefig(path, dpi=120)


def plot_rollout(
    truth: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    coords: np.ndarray,
    times: np.ndarray,
    path: Path,
    title: str,
) -> None:
    """Space-time images (time up, space across) of truth, each prediction and its error.

    truth and each prediction are (T, N); coords (N,), times (T,).
    """
    figure = Figure(figsize=(10, 3.2 * len(predictions)), layout="constrained")
    grid = figure.subplots(len(predictions), 3, squeeze=False)
    extent = (coords[0], coords[-1], times[0], times[-1])
    limit = float(np.abs(truth).max())
    error_limit = max(float(np.abs(p - truth).max()) for p in predictions.values())
    for row, (name, prediction) in zip(grid, predictions.items(), strict=True):
        panels = [
            ("truth", truth, "RdBu_r", -limit, limit),
            (name, prediction, "RdBu_r", -limit, limit),
            (f"|error|, {name}", np.abs(prediction - truth), "magma", 0.0, error_limit),
        ]
        for axes, (label, image, cmap, low, high) in zip(row, panels, strict=True):
            shown = axes.imshow(
                image, origin="lower", aspect="auto", extent=extent, cmap=cmap, vmin=low, vmax=high
            )
            axes.set(title=label, xlabel="x", ylabel="t")
            figure.colorbar(shown, ax=axes)
    figure.suptitle(title)
    figure.savefig(path, dpi=110)


def plot_nrmse_per_step(per_step: Mapping[str, np.ndarray], step_time: float, path: Path) -> None:
    """nRMSE against rollout step (and time) for each rollout mode."""
    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.subplots()
    for name, values in per_step.items():
        axes.plot(np.arange(1, len(values) + 1), values, label=name)
    axes.set(xlabel="rollout step", ylabel="nRMSE", yscale="log", title="Test rollout error")
    top = axes.secondary_xaxis("top", functions=(lambda s: s * step_time, lambda t: t / step_time))
    top.set_xlabel("time")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.savefig(path, dpi=120)


def plot_snapshots(
    truth: np.ndarray, prediction: np.ndarray, times: np.ndarray, path: Path, title: str
) -> None:
    """2D fields at four times of a rollout: truth, prediction and |error| in three rows.

    truth and prediction are (T, side, side); image rows are x, columns y, both in [0, 1)."""
    steps = sorted({0, len(times) // 3, 2 * len(times) // 3, len(times) - 1})
    figure = Figure(figsize=(3.2 * len(steps), 9), layout="constrained")
    grid = figure.subplots(3, len(steps), squeeze=False)
    limit = float(np.abs(truth).max())
    error = np.abs(prediction - truth)
    rows = [
        ("truth", truth, "RdBu_r", -limit, limit),
        ("prediction", prediction, "RdBu_r", -limit, limit),
        ("|error|", error, "magma", 0.0, float(error.max())),
    ]
    for axes_row, (label, images, cmap, low, high) in zip(grid, rows, strict=True):
        for axes, step in zip(axes_row, steps, strict=True):
            shown = axes.imshow(
                images[step].T, origin="lower", extent=(0, 1, 0, 1), cmap=cmap, vmin=low, vmax=high
            )
            axes.set(title=f"{label}, t = {times[step]:.3g}", xlabel="x", ylabel="y")
        figure.colorbar(shown, ax=axes_row[-1])
    figure.suptitle(title)
    figure.savefig(path, dpi=100)
