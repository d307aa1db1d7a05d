"""Approximator: transformer blocks that advance the latent tokens by one time step."""

from dataclasses import dataclass

from torch import Tensor, nn

from upt_models.blocks import TransformerBlock
from upt_models.relative_position import RelativePositionBias


@dataclass(frozen=True)
class ApproximatorConfig:
    """The approximator's width is the latent width D shared by encoder, approximator, decoder."""

    dim: int
    depth: int
    num_heads: int


class Approximator(nn.Module):
    """latent (B, L, D) -> next latent (B, L, D), optionally adaLN-conditioned.

    With `position_bias` (tokens at grid anchors) every block adds a relative position bias to
    its attention logits, so the step is the same at every anchor."""

    def __init__(
        self,
        config: ApproximatorConfig,
        cond_dim: int | None = None,
        position_bias: RelativePositionBias | None = None,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            TransformerBlock(config.dim, config.num_heads, cond_dim) for _ in range(config.depth)
        )
        self.position_bias = position_bias

    def forward(self, latent: Tensor, cond: Tensor | None = None) -> Tensor:
        """latent (B, L, D), cond (B, cond_dim) -> latent (B, L, D)."""
        bias = [None] * len(self.blocks) if self.position_bias is None else self.position_bias()
        for block, block_bias in zip(self.blocks, bias, strict=False):
            latent = block(latent, cond, bias=block_bias)
        return latent
