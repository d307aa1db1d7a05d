"""Grid decoder: latent tokens at grid anchors -> the field at any query point.

Transformer blocks (with the relative position bias) run over the tokens first. Then each query
x reads its `num_neighbours` nearest anchors with a learned kernel,

    h(x) = sum_l  kappa((x - a_l) / h) * v_l,      u(x) = head(h(x)) + linear(h(x)),

elementwise in the feature dimension, v_l a projection of token l. Queries never see each other,
so decoding all queries at once equals decoding them one by one, at any resolution.
"""

from __future__ import annotations

from torch import Tensor, nn

from upt_models.blocks import TransformerBlock, mlp
from upt_models.decoder import DecoderConfig
from upt_models.geometry import gather_neighbours, grid_side, nearest_anchors
from upt_models.relative_position import OffsetFeatures, RelativePositionBias
from upt_models.sharing import SharedGeometry


class GridDecoder(nn.Module):
    """latent (B, L, latent_dim), query_coords (B, Q, d) -> fields (B, Q, C)."""

    def __init__(
        self,
        config: DecoderConfig,
        coord_dim: int,
        num_channels: int,
        latent_dim: int,
        anchors: Tensor,
        periodic: bool,
        cond_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.config, self.periodic = config, periodic
        self.spacing = anchors.shape[0] ** (-1 / coord_dim)
        self.register_buffer("anchors", anchors, persistent=False)
        self.blocks = nn.ModuleList(
            TransformerBlock(latent_dim, config.num_heads, cond_dim) for _ in range(config.depth)
        )
        self.bias = RelativePositionBias(
            grid_side(len(anchors), coord_dim), coord_dim, periodic, config.num_heads, config.depth
        )
        self.proj = nn.Linear(latent_dim, config.dim)
        self.offset_features = OffsetFeatures(coord_dim)
        self.kernel = mlp(self.offset_features.dim, config.dim, config.dim)
        self.head = mlp(config.dim, config.dim, num_channels)
        self.linear = nn.Linear(config.dim, num_channels)
        self.shared_tokens, self.shared_readout = SharedGeometry(), SharedGeometry()

    def readout(self, query_coords: Tensor) -> tuple[Tensor, Tensor]:
        """What depends on the queries alone: their nearest anchors (B, Q, k) and the kernel
        weights (B, Q, k, dim)."""
        index, offset = nearest_anchors(
            query_coords, self.anchors, self.config.num_neighbours, self.periodic
        )
        return index, self.kernel(self.offset_features(-offset / self.spacing))

    def tokens(self, latent: Tensor, cond: Tensor | None) -> Tensor:
        """What depends on the latent alone: the values (B, L, dim) the queries read."""
        x = latent
        bias = self.bias()
        for block, block_bias in zip(self.blocks, bias, strict=False):
            x = block(x, cond, bias=block_bias)
        return self.proj(x)

    def forward(self, latent: Tensor, query_coords: Tensor, cond: Tensor | None = None) -> Tensor:
        values = self.shared_tokens.get((latent, cond), lambda: self.tokens(latent, cond))
        index, kernel = self.shared_readout.get((query_coords,), lambda: self.readout(query_coords))
        read = (kernel * gather_neighbours(values, index)).sum(dim=2)
        return self.head(read) + self.linear(read)
