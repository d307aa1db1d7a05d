"""The comparison's plots, with matplotlib's object API (no pyplot, no display needed)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

MODES = {"latent": "latent rollout (UPT)", "autoregressive": "autoregressive rollout"}


def _runs(results: Sequence[dict[str, Any]], name: str, budget: str) -> list[dict[str, Any]]:
    return [r for r in results if r["entry"] == name and r["budget"] == budget and "error" not in r]


def plot_nrmse_per_step(
    results: Sequence[dict[str, Any]], order: Sequence[str], path: Path
) -> None:
    """nRMSE against rollout step for every entry (mean over seeds), one panel per rollout mode."""
    figure = Figure(figsize=(12, 4.5), layout="constrained")
    panels = figure.subplots(1, len(MODES), sharey=True)
    for axes, (mode, title) in zip(panels, MODES.items(), strict=True):
        for index, name in enumerate(order):
            curves = [
                r["curves"][mode] for r in _runs(results, name, "steps") if mode in r["curves"]
            ]
            if curves:
                mean = np.mean(np.asarray(curves), axis=0)
                steps = np.arange(1, len(mean) + 1)
                axes.plot(steps, mean, label=name, color=f"C{index % 10}")
        axes.set(xlabel="rollout step", ylabel="nRMSE", yscale="log", title=title)
        axes.grid(alpha=0.3)
    panels[-1].legend(fontsize="small")
    figure.suptitle("Test nRMSE against rollout step (equal step budget, mean over seeds)")
    figure.savefig(path, dpi=110)


def plot_error_vs_wall_time(
    results: Sequence[dict[str, Any]], order: Sequence[str], path: Path
) -> None:
    """Left: test one-step nRMSE against training seconds, at both budgets (mean ± std over seeds).
    Right: training next-step loss against training wall time (equal steps, first seed)."""
    figure = Figure(figsize=(12, 4.5), layout="constrained")
    left, right = figure.subplots(1, 2)
    for index, name in enumerate(order):
        color = f"C{index % 10}"
        points = []
        for budget in ("steps", "seconds"):
            runs = _runs(results, name, budget)
            if runs:
                times = [r["loop_seconds"] for r in runs]
                errors = [r["one_step_nrmse"] for r in runs]
                spread = statistics.stdev(errors) if len(errors) > 1 else 0.0
                points.append((statistics.fmean(times), statistics.fmean(errors), spread))
        if points:
            x, y, err = zip(*points, strict=True)
            left.errorbar(x, y, yerr=err, marker="o", capsize=3, color=color, label=name)
        runs = _runs(results, name, "steps")
        if runs and runs[0]["history"]:
            elapsed, loss = np.asarray(runs[0]["history"]).T
            right.plot(elapsed, loss, color=color, label=name, linewidth=1)
    left.set(
        xlabel="training wall time (s)",
        ylabel="one-step nRMSE (test)",
        yscale="log",
        title="Test error against training time (both budgets)",
    )
    right.set(
        xlabel="training wall time (s)",
        ylabel="next-step loss (normalized, train)",
        yscale="log",
        title="Training loss against wall time (equal steps)",
    )
    for axes in (left, right):
        axes.grid(alpha=0.3)
    right.legend(fontsize="small")
    figure.savefig(path, dpi=110)
