"""Point encoder: points -> supernode message passing -> transformer -> perceiver pooling."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import Tensor, nn

from upt_models.anchors import DistanceBias
from upt_models.blocks import PerceiverBlock, TransformerBlock, mlp
from upt_models.embedding import SincosEmbedding
from upt_models.graph import canonical_order, neighbour_graph, select_supernodes


@dataclass(frozen=True)
class EncoderConfig:
    """Widths and graph settings of the encoder.

    `max_neighbours`: the nearest points each supernode (perceiver latent) or anchor (grid
    latent) pools; `radius` (coordinate units) also drops points farther than that. The
    perceiver latent also needs `gnn_dim`, `perceiver_num_heads` and `num_supernodes`.
    """

    dim: int
    depth: int
    num_heads: int
    num_latent_tokens: int
    max_neighbours: int = 32
    radius: float | None = None
    gnn_dim: int | None = None
    perceiver_num_heads: int | None = None
    num_supernodes: int | None = None


class SupernodePooling(nn.Module):
    """Embeds points and pools them onto supernodes by mean message passing over the graph."""

    def __init__(self, num_channels: int, coord_dim: int, dim: int, embed_scale: float) -> None:
        super().__init__()
        self.field_embed = mlp(num_channels, dim, dim, dim)
        self.pos_embed = SincosEmbedding(dim, coord_dim, scale=embed_scale)
        self.message = mlp(2 * dim, 2 * dim, dim, dim)

    @torch.no_grad()
    def balance_field_embedding(self, num_probes: int = 4096) -> None:
        """Rescale the field embedding's last layer so that unit-normal field values embed with
        the RMS of the position embedding (a data-free LSUV-style init, Mishkin & Matas 2016).

        With xavier init alone the field part is much smaller than the position part, and on
        zero-mean fields training sits at the predict-zero plateau for far longer (upt-models'
        README has the measurements).
        """
        generator = torch.Generator().manual_seed(0)
        first, last = self.field_embed[0], self.field_embed[-1]
        device = last.weight.device
        values = torch.randn(num_probes, first.in_features, generator=generator).to(device)
        points = torch.rand(num_probes, self.pos_embed.num_axes, generator=generator).to(device)
        field_rms = self.field_embed(values).square().mean().sqrt()
        position_rms = self.pos_embed(points).square().mean().sqrt()
        last.weight.mul_(position_rms / field_rms)
        last.bias.mul_(position_rms / field_rms)

    def forward(
        self,
        fields: Tensor,
        coords: Tensor,
        supernode_index: Tensor,
        neighbours: Tensor,
        edge_valid: Tensor,
    ) -> Tensor:
        """fields (B, N, C), coords (B, N, d), supernode_index (B, S), neighbours and
        edge_valid (B, S, K) -> supernode features (B, S, dim).

        The message MLP sees [source point, supernode] per edge. Its first layer is linear, so it
        is applied per point and per supernode and then gathered per edge: the same function as
        concatenating per edge, for N + S instead of S * K rows.
        """
        points = self.field_embed(fields) + self.pos_embed(coords)
        w_source, w_centre = self.message[0].weight.chunk(2, dim=1)
        batch_offset = torch.arange(points.shape[0], device=points.device) * points.shape[1]
        flat_source = rearrange(F.linear(points, w_source), "b n c -> (b n) c")
        flat_points = rearrange(points, "b n c -> (b n) c")
        source = flat_source[neighbours + rearrange(batch_offset, "b -> b 1 1")]
        centre = flat_points[supernode_index + rearrange(batch_offset, "b -> b 1")]
        centre = F.linear(centre, w_centre, self.message[0].bias)
        messages = self.message[1:](source + rearrange(centre, "b s c -> b s 1 c"))
        weight = edge_valid.to(messages.dtype)
        count = weight.sum(dim=2).clamp(min=1.0)
        return torch.einsum("bskc,bsk->bsc", messages, weight) / rearrange(count, "b s -> b s 1")


class PointEncoder(nn.Module):
    """Encodes a (padded) batch of point clouds with fields into L latent tokens."""

    def __init__(
        self,
        config: EncoderConfig,
        coord_dim: int,
        num_channels: int,
        latent_dim: int,
        cond_dim: int | None = None,
        embed_scale: float = 1000.0,
        anchors: Tensor | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.pool = SupernodePooling(num_channels, coord_dim, config.gnn_dim, embed_scale)
        self.proj = nn.Linear(config.gnn_dim, config.dim)
        self.blocks = nn.ModuleList(
            TransformerBlock(config.dim, config.num_heads, cond_dim) for _ in range(config.depth)
        )
        self.perceiver_proj = nn.Linear(config.dim, latent_dim)
        self.query = nn.Parameter(torch.randn(config.num_latent_tokens, latent_dim))
        self.perceiver = PerceiverBlock(latent_dim, config.perceiver_num_heads, cond_dim)
        self.anchor_bias = None
        if anchors is not None:
            self.register_buffer("anchors", anchors, persistent=False)
            width = anchors.shape[0] ** (-1 / coord_dim)
            self.anchor_bias = DistanceBias(config.perceiver_num_heads, width)

    def forward(
        self,
        fields: Tensor,
        coords: Tensor,
        mask: Tensor | None = None,
        cond: Tensor | None = None,
    ) -> Tensor:
        """fields (B, N, C), coords (B, N, d), mask (B, N) bool, True = real point,
        cond (B, cond_dim) -> latent (B, L, latent_dim).

        Supernodes are random in training mode and deterministic in eval mode; there are
        min(num_supernodes, N) slots, and a cloud with fewer real points than slots uses all of
        its points as supernodes (the other slots are masked out of attention).
        """
        padded = mask is not None
        if mask is None:
            mask = torch.ones(fields.shape[:2], dtype=torch.bool, device=fields.device)
        fields = fields.masked_fill(~mask[..., None], 0.0)
        coords = coords.masked_fill(~mask[..., None], 0.0)
        order = canonical_order(coords, mask)
        fields, coords = (
            t.gather(1, repeat(order, "b n -> b n c", c=t.shape[-1])) for t in (fields, coords)
        )
        mask = mask.gather(1, order)

        index, valid = select_supernodes(mask, self.config.num_supernodes, random=self.training)
        neighbours, edge_valid = neighbour_graph(
            coords, mask, index, valid, self.config.max_neighbours, self.config.radius
        )
        x = self.proj(self.pool(fields, coords, index, neighbours, edge_valid))
        key_mask = valid if padded else None
        for block in self.blocks:
            x = block(x, cond, key_mask)
        query = repeat(self.query, "l c -> b l c", b=x.shape[0])
        bias = None
        if self.anchor_bias is not None:
            centres = coords.gather(1, repeat(index, "b s -> b s d", d=coords.shape[-1]))
            bias = self.anchor_bias(repeat(self.anchors, "l d -> b l d", b=x.shape[0]), centres)
        return self.perceiver(query, self.perceiver_proj(x), cond, key_mask, bias)
