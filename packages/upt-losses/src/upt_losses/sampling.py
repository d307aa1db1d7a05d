"""Sampling of query points without replacement, per sample, respecting a padding mask."""

from __future__ import annotations

import torch
from torch import Tensor


def uses_every_point(num_query_points: int | None, num_points: int) -> bool:
    """Whether `sample_query_indices` keeps every point, in order."""
    return num_query_points is None or num_query_points >= num_points


def sample_query_indices(
    coords: Tensor,
    num_query_points: int | None,
    *,
    mask: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Draw up to `num_query_points` distinct real points from every sample of a point cloud.

    Each sample's subset is uniform among the subsets of its real points (random keys, smallest
    `num_query_points` kept), so a mean over the subset is an unbiased estimate of the mean over
    all real points. With `num_query_points` None or at least N, every point is kept in order.

    Args:
        coords: (B, N, d) the points; only their shape and device are used.
        num_query_points: Q, the number of points to keep per sample, or None for all.
        mask: (B, N) bool, True for real points, False for padding; None when all are real.
        generator: source of randomness; the same seed gives the same subsets.

    Returns:
        indices: (B, Q) long, positions along the N axis.
        sampled_mask: (B, Q) bool, False where a sample has fewer than Q real points and the slot
            holds padding; None when `mask` is None.
    """
    batch, num_points, _ = coords.shape
    if uses_every_point(num_query_points, num_points):
        indices = torch.arange(num_points, device=coords.device).expand(batch, num_points)
        return indices, mask
    key_device = generator.device if generator is not None else coords.device
    keys = torch.rand(batch, num_points, generator=generator, device=key_device).to(coords.device)
    if mask is not None:
        keys = keys.masked_fill(~mask, 2.0)
    indices = keys.topk(num_query_points, dim=1, largest=False, sorted=False).indices
    return indices, None if mask is None else mask.gather(1, indices)


def gather_points(values: Tensor, indices: Tensor) -> Tensor:
    """Select points: values (B, N, K), indices (B, Q) -> (B, Q, K)."""
    return torch.take_along_dim(values, indices.unsqueeze(-1), dim=1)
