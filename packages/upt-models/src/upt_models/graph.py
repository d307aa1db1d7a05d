"""Supernode selection and the supernode neighbourhood graph, in pure torch index ops.

All functions work on padded batches: `mask` (B, N) is True for real points. The graph is kept
dense, (B, S, K) neighbour indices with a validity mask, so every shape is static (fit for
`torch.compile`) and aggregation is a masked mean instead of a scatter.
"""

import torch
from torch import Tensor

from upt_models.geometry import squared_distance


def morton_code(coords: Tensor, mask: Tensor) -> Tensor:
    """Z-order (Morton) code (B, N) int64 of each point within its cloud's bounding box.

    Consecutive codes are spatially close, so an even stride along them spreads points over the
    domain in every dimension. Padding gets the largest code.
    """
    num_axes = coords.shape[-1]
    bits = 62 // num_axes
    x = coords.double()
    padding = ~mask[..., None]
    low = x.masked_fill(padding, torch.inf).amin(dim=1, keepdim=True)
    high = x.masked_fill(padding, -torch.inf).amax(dim=1, keepdim=True)
    extent = (high - low).clamp(min=torch.finfo(torch.float64).tiny)
    cells = ((x - low) / extent * 2**bits).long().clamp(0, 2**bits - 1)
    code = torch.zeros(mask.shape, dtype=torch.int64, device=coords.device)
    for bit in range(bits):
        for axis in range(num_axes):
            code |= ((cells[..., axis] >> bit) & 1) << (bit * num_axes + axis)
    return code.masked_fill(~mask, torch.iinfo(torch.int64).max)


def canonical_order(coords: Tensor, mask: Tensor) -> Tensor:
    """Permutation (B, N) that sorts each cloud along the Z-order curve, padding last.

    Points sharing a Morton cell are ordered lexicographically by coordinate, so everything
    downstream of this order depends on the point set, not the order it came in (for clouds
    without duplicate coordinates).
    """
    keys = coords.float().masked_fill(~mask[..., None], torch.inf)
    order = torch.arange(coords.shape[1], device=coords.device).expand(coords.shape[:2])
    for axis in reversed(range(coords.shape[-1])):
        key = keys[..., axis].gather(1, order)
        order = order.gather(1, key.argsort(dim=1, stable=True))
    code = morton_code(coords, mask).gather(1, order)
    return order.gather(1, code.argsort(dim=1, stable=True))


def select_supernodes(mask: Tensor, num_supernodes: int, random: bool) -> tuple[Tensor, Tensor]:
    """Pick min(num_supernodes, N) supernodes per cloud among its real points.

    `random`: uniformly without replacement (torch's global RNG). Otherwise a deterministic,
    evenly strided subset of the (canonically ordered, real-first) points. A cloud with fewer
    real points than supernodes uses all of them; the remaining slots are invalid.
    Returns indices (B, S) and validity (B, S).
    """
    num_points = mask.shape[1]
    num_slots = min(num_supernodes, num_points)
    if random:
        scores = torch.rand(mask.shape, device=mask.device).masked_fill(~mask, -1.0)
        index = scores.topk(num_slots, dim=1).indices
    else:
        slot = torch.arange(num_slots, device=mask.device)
        num_real = mask.sum(dim=1, keepdim=True)
        strided = torch.div(slot * num_real, num_slots, rounding_mode="floor")
        index = torch.where(num_real >= num_slots, strided, slot)
    return index, mask.gather(1, index)


def neighbour_graph(
    coords: Tensor,
    mask: Tensor,
    supernode_index: Tensor,
    supernode_valid: Tensor,
    max_neighbours: int,
    radius: float | None,
) -> tuple[Tensor, Tensor]:
    """The up to `max_neighbours` nearest real points of each supernode (within `radius` if set).

    Each supernode is its own neighbour (distance 0), so a valid supernode always has an edge.
    Returns neighbour indices (B, S, K) and edge validity (B, S, K), K = min(max_neighbours, N).
    """
    coords = coords.float()
    centres = coords.gather(1, supernode_index[..., None].expand(-1, -1, coords.shape[-1]))
    squared = squared_distance(centres, coords).masked_fill(~mask[:, None, :], torch.inf)
    k = min(max_neighbours, coords.shape[1])
    nearest, index = squared.topk(k, dim=2, largest=False)
    valid = nearest.isfinite() & supernode_valid[..., None]
    if radius is not None:
        valid &= nearest <= radius**2
    return index, valid
