"""The next-step loss: mean squared error, or the per-sample relative error that the metric uses.

PDEBench's nRMSE averages ||pred - true|| / ||true|| over samples, so every sample counts the
same whatever its amplitude. Plain MSE on normalized fields lets the large-amplitude samples
dominate; `relative_squared_error` weights them as the metric does.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from upt_losses import masked_mean_squared_error

LossName = Literal["mse", "relative"]


def relative_squared_error(
    prediction: Tensor, target: Tensor, mask: Tensor | None = None, eps: float = 1e-8
) -> Tensor:
    """mean over samples of ||pred - true||^2 / ||true||^2 over real points and channels.

    prediction, target (B, Q, C); mask (B, Q) bool, True = real point. Computed in float32 at
    least; padded entries never enter, even when they hold NaN."""
    dtype = torch.promote_types(torch.promote_types(prediction.dtype, target.dtype), torch.float32)
    error = prediction.to(dtype) - target.to(dtype)
    reference = target.to(dtype)
    if mask is not None:
        error = torch.where(mask[..., None], error, 0.0)
        reference = torch.where(mask[..., None], reference, 0.0)
    scale = reference.square().sum(dim=(1, 2)).clamp(min=eps)
    return (error.square().sum(dim=(1, 2)) / scale).mean()


def next_step_loss(
    name: LossName, prediction: Tensor, target: Tensor, mask: Tensor | None = None
) -> Tensor:
    """The configured loss (`training.loss`) between prediction and target (B, Q, C)."""
    if name == "relative":
        return relative_squared_error(prediction, target, mask)
    return masked_mean_squared_error(prediction, target, mask)
