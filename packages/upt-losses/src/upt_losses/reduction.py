"""Mean squared error over the real points of each sample, averaged over the batch."""

from __future__ import annotations

import torch
from torch import Tensor


def masked_mean_squared_error(
    prediction: Tensor, target: Tensor, mask: Tensor | None = None
) -> Tensor:
    """Per sample, the mean of (prediction - target)^2 over real points and channels; then the mean
    over samples, so each sample weighs the same whatever its number of points.

    Computed in at least float32, so it stays finite when prediction comes from fp16/bf16 autocast.
    Padded entries never enter the value or the gradient, even when they hold NaN.

    Args:
        prediction, target: (B, P, K).
        mask: (B, P) bool, True for real points; None means all points are real.

    Returns:
        A scalar tensor.
    """
    dtype = torch.promote_types(torch.promote_types(prediction.dtype, target.dtype), torch.float32)
    error = prediction.to(dtype) - target.to(dtype)
    if mask is None:
        return error.square().mean()
    error = torch.where(mask.unsqueeze(-1), error, 0.0)
    per_sample = error.square().sum(dim=(1, 2)) / (mask.sum(dim=1) * error.shape[-1])
    return per_sample.mean()
