"""Rollout metrics: PDEBench's nRMSE and the correlation time reported by PDE-Refiner.

Predictions and targets are (B, T, N, C): trajectories, predicted time steps (the given initial
steps already excluded), points, channels.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check_pair(prediction: Tensor, target: Tensor) -> None:
    if prediction.shape != target.shape or prediction.ndim != 4:
        raise ValueError(
            "prediction and target must both have shape (B, T, N, C); got "
            f"{tuple(prediction.shape)} and {tuple(target.shape)}"
        )


def nrmse_per_step(prediction: Tensor, target: Tensor) -> Tensor:
    """||pred - true||_2 / ||true||_2 over space, averaged over trajectories and channels: (T,)."""
    _check_pair(prediction, target)
    error = torch.linalg.vector_norm((prediction - target).double(), dim=2)
    scale = torch.linalg.vector_norm(target.double(), dim=2)
    return (error / scale).mean(dim=(0, 2))


def nrmse(prediction: Tensor, target: Tensor) -> float:
    """PDEBench's nRMSE: the per-(sample, step, channel) ratio averaged over all of them."""
    return nrmse_per_step(prediction, target).mean().item()


def correlation_per_step(prediction: Tensor, target: Tensor) -> Tensor:
    """Pearson correlation over space, averaged over channels and trajectories: (T,)."""
    _check_pair(prediction, target)
    pred = prediction.double() - prediction.double().mean(dim=2, keepdim=True)
    true = target.double() - target.double().mean(dim=2, keepdim=True)
    covariance = (pred * true).sum(dim=2)
    norms = torch.linalg.vector_norm(pred, dim=2) * torch.linalg.vector_norm(true, dim=2)
    return (covariance / norms).mean(dim=(0, 2))


def correlation_time(correlation: Tensor, threshold: float = 0.8) -> int | None:
    """The first rollout step (1-based) whose correlation is below `threshold`; None if none is."""
    below = (correlation < threshold).nonzero()
    return int(below[0, 0]) + 1 if len(below) else None
