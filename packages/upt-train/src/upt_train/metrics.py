"""Rollout metrics: PDEBench's nRMSE and the correlation time reported by PDE-Refiner.

Predictions and targets are (B, T, N, C): trajectories, predicted time steps (the given initial
steps already excluded), points, channels. An optional mask (B, N) marks the real points of
padded point clouds; padding never counts.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check_pair(prediction: Tensor, target: Tensor, mask: Tensor | None) -> None:
    if prediction.shape != target.shape or prediction.ndim != 4:
        raise ValueError(
            "prediction and target must both have shape (B, T, N, C); got "
            f"{tuple(prediction.shape)} and {tuple(target.shape)}"
        )
    if mask is not None and mask.shape != (target.shape[0], target.shape[2]):
        raise ValueError(f"mask must have shape (B, N); got {tuple(mask.shape)}")


def _masked(values: Tensor, mask: Tensor | None) -> Tensor:
    """values (B, T, N, C) in float64, zero at padded points."""
    values = values.double()
    return values if mask is None else torch.where(mask[:, None, :, None], values, 0.0)


def nrmse_per_step(prediction: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """||pred - true||_2 / ||true||_2 over space, averaged over trajectories and channels: (T,)."""
    _check_pair(prediction, target, mask)
    error = torch.linalg.vector_norm(_masked(prediction - target, mask), dim=2)
    scale = torch.linalg.vector_norm(_masked(target, mask), dim=2)
    return (error / scale).mean(dim=(0, 2))


def nrmse(prediction: Tensor, target: Tensor, mask: Tensor | None = None) -> float:
    """PDEBench's nRMSE: the per-(sample, step, channel) ratio averaged over all of them."""
    return nrmse_per_step(prediction, target, mask).mean().item()


def correlation_per_step(prediction: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Pearson correlation over space, averaged over channels and trajectories: (T,)."""
    _check_pair(prediction, target, mask)
    count = (
        torch.full((target.shape[0], 1, 1, 1), float(target.shape[2]), dtype=torch.float64)
        if mask is None
        else mask.sum(dim=1).double()[:, None, None, None]
    ).to(target.device)
    centred = []
    for values in (prediction, target):
        values = _masked(values, mask)
        centred.append(_masked(values - values.sum(dim=2, keepdim=True) / count, mask))
    pred, true = centred
    covariance = (pred * true).sum(dim=2)
    norms = torch.linalg.vector_norm(pred, dim=2) * torch.linalg.vector_norm(true, dim=2)
    return (covariance / norms).mean(dim=(0, 2))


def correlation_time(correlation: Tensor, threshold: float = 0.8) -> int | None:
    """The first rollout step (1-based) whose correlation is below `threshold`; None if none is."""
    below = (correlation < threshold).nonzero()
    return int(below[0, 0]) + 1 if len(below) else None
