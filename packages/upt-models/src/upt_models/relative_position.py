"""Relative positions on the anchor grid: Fourier features of offsets and an attention bias.

Offsets are measured in units of the anchor spacing h, so that the same features describe "one
cell to the left" at every resolution of the grid.
"""

from __future__ import annotations

import math

import torch
from einops import rearrange
from torch import Tensor, nn

from upt_models.sharing import SharedGeometry


class OffsetFeatures(nn.Module):
    """offset (..., d) in anchor spacings -> [offset, sin(w_j offset), cos(w_j offset)] per axis,
    with w_j = (pi / 4) 2^j for j < num_frequencies: wavelengths from 8 cells down to 1/8 cell."""

    def __init__(self, coord_dim: int, num_frequencies: int = 6) -> None:
        super().__init__()
        frequencies = (math.pi / 4) * 2.0 ** torch.arange(num_frequencies, dtype=torch.float32)
        self.register_buffer("frequencies", frequencies, persistent=False)
        self.dim = coord_dim * (1 + 2 * num_frequencies)

    def forward(self, offset: Tensor) -> Tensor:
        angles = offset[..., None] * self.frequencies
        return torch.cat(
            [
                offset,
                rearrange(angles.sin(), "... d f -> ... (d f)"),
                rearrange(angles.cos(), "... d f -> ... (d f)"),
            ],
            dim=-1,
        )


class RelativePositionBias(nn.Module):
    """A learned attention bias b_{block, head}(a_i - a_j) for a stack of blocks over the tokens
    of a regular grid of `side`^d anchors (row-major, as `grid_anchors` orders them).

    An MLP maps the features of every distinct offset (whole cells per axis; wrapped to the
    nearest image when periodic) to one value per block and head, so the bias is translation
    invariant (exactly so on a periodic grid) and costs one small MLP per forward, whatever the
    batch size. forward() -> (num_blocks, 1, heads, L, L).
    """

    def __init__(
        self,
        side: int,
        coord_dim: int,
        periodic: bool,
        num_heads: int,
        num_blocks: int,
        hidden: int = 64,
    ) -> None:
        super().__init__()
        cells = torch.arange(side)
        index = torch.stack(torch.meshgrid(*[cells] * coord_dim, indexing="ij"), -1)
        index = rearrange(index, "... d -> (...) d")
        delta = index[None, :, :] - index[:, None, :]
        if periodic:
            delta = (delta + side // 2).remainder(side) - side // 2
        radix = 2 * side - 1
        weights = radix ** torch.arange(coord_dim)
        self.register_buffer(
            "table_index", ((delta + side - 1) * weights).sum(-1), persistent=False
        )
        values = torch.arange(-(side - 1), side, dtype=torch.float32)
        offsets = torch.meshgrid(*[values] * coord_dim, indexing="ij")
        offsets = torch.stack([o.flatten() for o in reversed(offsets)], dim=-1)
        self.register_buffer("offsets", offsets, persistent=False)
        self.features = OffsetFeatures(coord_dim)
        self.mlp = nn.Sequential(
            nn.Linear(self.features.dim, hidden),
            nn.GELU(),
            nn.Linear(hidden, num_blocks * num_heads),
        )
        self.num_blocks = num_blocks
        self.shared = SharedGeometry()

    def forward(self) -> Tensor:
        return self.shared.get((), self.compute)

    def compute(self) -> Tensor:
        table = self.mlp(self.features(self.offsets))
        # index_select: its backward, an index_add, is cheaper than the index_put of table[index]
        values = table.index_select(0, self.table_index.flatten())
        return rearrange(
            values, "(q k) (n h) -> n 1 h q k", q=len(self.table_index), n=self.num_blocks
        )
