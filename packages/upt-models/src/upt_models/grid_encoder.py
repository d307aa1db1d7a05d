"""Grid encoder: a point cloud -> latent tokens at the anchors of a regular grid.

Each anchor a_l pools its `max_neighbours` nearest points x_i with a learned kernel integral,

    token_l = mean_i  kappa((x_i - a_l) / h) * psi(u_i),

elementwise in the feature dimension, with kappa an MLP of the offset in anchor spacings h and
psi an embedding of the field values. The token is linear in the field through psi's linear part,
so the identity map (what the inverse encoding loss asks for) is easy to represent; kappa makes
it sharp below the anchor spacing. Transformer blocks with a relative position bias follow. On a
periodic domain nothing depends on absolute position, so the encoder commutes with translations
by whole cells when the model is `translation_invariant`; otherwise an embedding of the anchor
positions is added (periodic features on a periodic domain, sin-cos features elsewhere).
"""

from __future__ import annotations

import torch
from einops import repeat
from torch import Tensor, nn

from upt_models.blocks import TransformerBlock, mlp
from upt_models.embedding import PeriodicEmbedding, SincosEmbedding
from upt_models.encoder import EncoderConfig
from upt_models.geometry import gather_neighbours, grid_side, nearest
from upt_models.graph import canonical_order
from upt_models.relative_position import OffsetFeatures, RelativePositionBias
from upt_models.sharing import SharedGeometry


class FieldEmbedding(nn.Module):
    """Field values (..., C) -> (..., dim): a linear map plus a GELU MLP."""

    def __init__(self, num_channels: int, dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(num_channels, dim)
        self.mlp = mlp(num_channels, dim, dim)

    def forward(self, fields: Tensor) -> Tensor:
        return self.linear(fields) + self.mlp(fields)


class GridEncoder(nn.Module):
    """fields (B, N, C) at coords (B, N, d), mask (B, N) -> latent (B, L, latent_dim)."""

    def __init__(
        self,
        config: EncoderConfig,
        coord_dim: int,
        num_channels: int,
        latent_dim: int,
        anchors: Tensor,
        periodic: bool,
        cond_dim: int | None = None,
        translation_invariant: bool = False,
    ) -> None:
        super().__init__()
        self.config, self.periodic = config, periodic
        self.spacing = anchors.shape[0] ** (-1 / coord_dim)
        self.register_buffer("anchors", anchors, persistent=False)
        self.offset_features = OffsetFeatures(coord_dim)
        self.kernel = mlp(self.offset_features.dim, config.dim, config.dim)
        self.field_embed = FieldEmbedding(num_channels, config.dim)
        self.position = None
        if not translation_invariant:
            embedding = PeriodicEmbedding if periodic else SincosEmbedding
            self.position = embedding(config.dim, coord_dim)
        self.blocks = nn.ModuleList(
            TransformerBlock(config.dim, config.num_heads, cond_dim) for _ in range(config.depth)
        )
        self.bias = RelativePositionBias(
            grid_side(len(anchors), coord_dim), coord_dim, periodic, config.num_heads, config.depth
        )
        self.proj = nn.Linear(config.dim, latent_dim)
        self.shared = SharedGeometry()

    def pooling(self, coords: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """What depends on the points alone: their canonical order (B, N), each anchor's
        neighbours in that order (B, L, k), the kernel weights (B, L, k, dim) and which
        neighbours count (B, L, k, 1)."""
        if mask is None:
            mask = torch.ones(coords.shape[:2], dtype=torch.bool, device=coords.device)
        coords = coords.masked_fill(~mask[..., None], 0.0)
        order = canonical_order(coords, mask)
        coords = coords.gather(1, repeat(order, "b n -> b n c", c=coords.shape[-1]))
        anchors = repeat(self.anchors, "l d -> b l d", b=coords.shape[0])
        index, offset, valid = nearest(
            anchors,
            coords,
            self.config.max_neighbours,
            self.periodic,
            mask.gather(1, order),
            self.config.radius,
        )
        kernel = self.kernel(self.offset_features(offset / self.spacing))
        return order, index, kernel, valid[..., None].to(kernel.dtype)

    def forward(
        self,
        fields: Tensor,
        coords: Tensor,
        mask: Tensor | None = None,
        cond: Tensor | None = None,
    ) -> Tensor:
        """Padded points (mask False) are never pooled; every anchor pools its nearest real
        points, however far, unless `radius` limits them (an anchor with none gets zeros)."""
        order, index, kernel, weight = self.shared.get(
            (coords, mask), lambda: self.pooling(coords, mask)
        )
        if mask is not None:
            fields = fields.masked_fill(~mask[..., None], 0.0)
        fields = fields.gather(1, repeat(order, "b n -> b n c", c=fields.shape[-1]))
        # the embedding is pointwise: run it on the points or on the pooled slots, whichever
        # are fewer (a point sits in about L k / N anchors' lists)
        if fields.shape[1] < index[0].numel():
            embedded = gather_neighbours(self.field_embed(fields), index)
        else:
            embedded = self.field_embed(gather_neighbours(fields, index))
        messages = kernel * embedded
        x = (messages * weight).sum(dim=2) / weight.sum(dim=2).clamp(min=1.0)
        if self.position is not None:
            x = x + self.position(repeat(self.anchors, "l d -> b l d", b=x.shape[0]))
        bias = self.bias()
        for block, block_bias in zip(self.blocks, bias, strict=False):
            x = block(x, cond, bias=block_bias)
        return self.proj(x)
