"""Points in the unit cube, optionally periodic: grid anchors, displacements, nearest neighbours.

On a periodic domain ([0, 1)^d with opposite faces identified) a displacement is taken to the
nearest image, each component in [-1/2, 1/2); distances and neighbours follow.
"""

from __future__ import annotations

import torch
from einops import repeat
from torch import Tensor


def grid_side(num_points: int, coord_dim: int) -> int:
    """The number of grid points per axis of a regular grid of `num_points` in `coord_dim` axes."""
    side = round(num_points ** (1 / coord_dim))
    if side < 1 or side**coord_dim != num_points:
        raise ValueError(
            f"{num_points} latent tokens do not form a regular grid in {coord_dim}D: use a "
            f"{coord_dim}-th power such as {max(side, 1) ** coord_dim} or {(side + 1) ** coord_dim}"
        )
    return side


def grid_anchors(num_points: int, coord_dim: int) -> Tensor:
    """The cell centres of a regular grid of `num_points` cells in [0, 1)^coord_dim,
    (num_points, coord_dim), in row-major order (the last axis varies fastest)."""
    side = grid_side(num_points, coord_dim)
    centres = (torch.arange(side, dtype=torch.float64) + 0.5) / side
    axes = torch.meshgrid(*[centres] * coord_dim, indexing="ij")
    return torch.stack([axis.flatten() for axis in axes], dim=-1).float()


def displacement(to: Tensor, origin: Tensor, periodic: bool) -> Tensor:
    """to - origin, wrapped to the nearest periodic image when `periodic`."""
    delta = to - origin
    return delta - delta.round() if periodic else delta


def squared_distance(queries: Tensor, keys: Tensor) -> Tensor:
    """|q - k|^2 of every pair, queries (B, Q, d), keys (B, K, d) -> (B, Q, K) float32, from the
    differences (no |q|^2 - 2 q.k + |k|^2 cancellation).

    On the CPU through `torch.cdist`; elsewhere one axis at a time, since CUDA's cdist kernel
    reduces each pair with a thread block of its own and took most of a perceiver encode's time
    (benchmarks/profile_step.py on an H200, packages/upt-train/README.md).
    """
    queries, keys = queries.float(), keys.float()
    if queries.device.type == "cpu":
        return torch.cdist(queries, keys, compute_mode="donot_use_mm_for_euclid_dist").square()
    return squared_distance_by_axis(queries, keys)


def squared_distance_by_axis(queries: Tensor, keys: Tensor, periodic: bool = False) -> Tensor:
    """`squared_distance` (to the nearest periodic image when `periodic`), summed one axis at a
    time: O(B Q K) memory."""
    queries, keys = queries.float(), keys.float()
    squared = queries.new_zeros(queries.shape[0], queries.shape[1], keys.shape[1])
    for axis in range(queries.shape[-1]):
        delta = displacement(keys[:, None, :, axis], queries[:, :, None, axis], periodic)
        squared += delta.square()
    return squared


def smallest_first(values: Tensor, k: int) -> Tensor:
    """Indices of the min(k, n) smallest of non-negative float32 `values` (..., n) along the
    last axis, ascending, ties to the lower index: the first k of a stable sort, found by topk
    on one exact integer key per value (its bit pattern, which orders non-negative floats and
    +inf as the floats do, above its index)."""
    count = values.shape[-1]
    bits = values.float().view(torch.int32).long()
    keys = bits * count + torch.arange(count, device=values.device)
    return keys.topk(min(k, count), dim=-1, largest=False, sorted=True).indices


def nearest(
    queries: Tensor,
    keys: Tensor,
    k: int,
    periodic: bool,
    key_mask: Tensor | None = None,
    radius: float | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """The `k` nearest real keys of every query (within `radius` when given).

    queries (B, Q, d), keys (B, K, d), key_mask (B, K) bool (True = real key) ->
    index (B, Q, k) into the keys, offset (B, Q, k, d) = key - query (nearest image when
    periodic), valid (B, Q, k): False for padding keys, keys beyond `radius`, and where a query
    has fewer than k real keys. Ties go to the lower key index (as a stable sort would), so
    keys in a canonical order give neighbours that do not depend on the order they came in.
    Memory is O(B Q K), accumulated one axis at a time.
    """
    squared = squared_distance_by_axis(queries, keys, periodic)
    if key_mask is not None:
        squared = squared.masked_fill(~key_mask[:, None, :], torch.inf)
    index = smallest_first(squared, k)
    distance = squared.gather(2, index)
    gathered = keys.float().gather(1, repeat(index, "b q k -> b (q k) d", d=keys.shape[-1]))
    offset = displacement(gathered.view(*index.shape, -1), queries.float()[:, :, None, :], periodic)
    valid = distance.isfinite()
    if radius is not None:
        valid &= distance <= radius**2
    return index, offset, valid


WINDOW = 5  # anchors per axis searched around a query by `nearest_anchors`


def nearest_anchors(
    queries: Tensor, anchors: Tensor, k: int, periodic: bool
) -> tuple[Tensor, Tensor]:
    """`nearest(queries, anchors, k, periodic)[:2]` for the anchors of `grid_anchors`, in
    O(B Q 5^d) instead of O(B Q L): (B, Q, k) index, (B, Q, k, d) offset, the same values.

    Along each axis the 5 anchors centred on the one nearest a query (shifted inwards at a
    non-periodic edge) include its 4 nearest, at most 1/2, 1, 3/2 and 2 spacings away, and
    every other anchor lies at least 5/2 spacings away. For d <= 2 the window's products hold
    the k <= 2^(d + 1) nearest anchors, all within sqrt(9/4 + 1) < 2 spacings, so searching
    the window (ties broken by anchor index, as `nearest` does) gives the global answer with
    half a spacing to spare for rounding. Anything else (3D, larger k, fewer than 5 anchors per
    axis) falls back to `nearest`.
    """
    batch, _, coord_dim = queries.shape
    side = grid_side(anchors.shape[0], coord_dim)
    if coord_dim > 2 or k > 2 ** (coord_dim + 1) or side < WINDOW:
        index, offset, _ = nearest(queries, repeat(anchors, "l d -> b l d", b=batch), k, periodic)
        return index, offset
    queries, anchors = queries.float(), anchors.float()
    start = (queries * side - 0.5).round().long() - WINDOW // 2
    if not periodic:
        start = start.clamp(0, side - WINDOW)
    cells = start[..., None] + torch.arange(WINDOW, device=queries.device)
    if periodic:
        cells = cells.remainder(side)
    candidates = cells[..., 0, :]
    for axis in range(1, coord_dim):
        candidates = (candidates[..., :, None] * side + cells[..., axis, None, :]).flatten(-2)
    candidates = candidates.sort(dim=-1).values
    keys = anchors[candidates]
    squared = torch.zeros(candidates.shape, device=queries.device)
    for axis in range(coord_dim):
        squared += displacement(keys[..., axis], queries[..., None, axis], periodic).square()
    order = smallest_first(squared, k)
    chosen = keys.gather(-2, repeat(order, "b q k -> b q k d", d=coord_dim))
    return candidates.gather(-1, order), displacement(chosen, queries[:, :, None, :], periodic)


def gather_neighbours(values: Tensor, index: Tensor) -> Tensor:
    """values (B, K, C) at index (B, Q, k) -> (B, Q, k, C)."""
    flat = values.gather(1, repeat(index, "b q k -> b (q k) c", c=values.shape[-1]))
    return flat.view(*index.shape, values.shape[-1])
