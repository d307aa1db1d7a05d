"""Perceiver decoder: reads the latent at arbitrary query coordinates."""

from dataclasses import dataclass

from einops import repeat
from torch import Tensor, nn

from upt_models.anchors import DistanceBias
from upt_models.blocks import PerceiverBlock, TransformerBlock
from upt_models.embedding import SincosEmbedding


@dataclass(frozen=True)
class DecoderConfig:
    """Perceiver latent: transformer blocks of width `dim` over the latent, then a perceiver of
    `perceiver_dim`. Grid latent: transformer blocks at the latent width, then each query reads
    its `num_neighbours` nearest anchors through a kernel of width `dim`."""

    dim: int
    depth: int
    num_heads: int
    num_neighbours: int = 4
    perceiver_dim: int | None = None
    perceiver_num_heads: int | None = None


class PerceiverDecoder(nn.Module):
    """latent (B, L, D), query_coords (B, Q, d) -> fields (B, Q, C).

    Queries attend only to the latent, never to each other: decoding all queries at once equals
    decoding them one by one, and any resolution can be queried.
    """

    def __init__(
        self,
        config: DecoderConfig,
        coord_dim: int,
        num_channels: int,
        latent_dim: int,
        cond_dim: int | None = None,
        embed_scale: float = 1000.0,
        anchors: Tensor | None = None,
    ) -> None:
        super().__init__()
        self.proj = nn.Linear(latent_dim, config.dim)
        self.blocks = nn.ModuleList(
            TransformerBlock(config.dim, config.num_heads, cond_dim) for _ in range(config.depth)
        )
        width = config.perceiver_dim
        self.perceiver_proj = nn.Linear(config.dim, width)
        self.pos_embed = SincosEmbedding(width, coord_dim, scale=embed_scale)
        self.query_mlp = nn.Sequential(
            nn.Linear(width, 4 * width),
            nn.GELU(),
            nn.Linear(4 * width, 4 * width),
            nn.GELU(),
            nn.Linear(4 * width, width),
        )
        self.perceiver = PerceiverBlock(width, config.perceiver_num_heads, cond_dim)
        self.norm = nn.LayerNorm(width, eps=1e-6)
        self.head = nn.Linear(width, num_channels)
        self.anchor_bias = None
        if anchors is not None:
            self.register_buffer("anchors", anchors, persistent=False)
            width = anchors.shape[0] ** (-1 / coord_dim)
            self.anchor_bias = DistanceBias(config.perceiver_num_heads, width)

    def forward(self, latent: Tensor, query_coords: Tensor, cond: Tensor | None = None) -> Tensor:
        """latent (B, L, D), query_coords (B, Q, d), cond (B, cond_dim) -> fields (B, Q, C)."""
        x = self.proj(latent)
        for block in self.blocks:
            x = block(x, cond)
        query = self.query_mlp(self.pos_embed(query_coords))
        bias = None
        if self.anchor_bias is not None:
            anchors = repeat(self.anchors, "l d -> b l d", b=x.shape[0])
            bias = self.anchor_bias(query_coords, anchors)
        out = self.perceiver(query, self.perceiver_proj(x), cond, bias=bias)
        return self.head(self.norm(out))
