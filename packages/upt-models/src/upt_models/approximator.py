"""Approximator: transformer blocks that advance the latent tokens by one time step."""

from dataclasses import dataclass

from torch import Tensor, nn

from upt_models.blocks import TransformerBlock


@dataclass(frozen=True)
class ApproximatorConfig:
    """The approximator's width is the latent width D shared by encoder, approximator, decoder."""

    dim: int
    depth: int
    num_heads: int


class Approximator(nn.Module):
    """latent (B, L, D) -> next latent (B, L, D), optionally adaLN-conditioned."""

    def __init__(self, config: ApproximatorConfig, cond_dim: int | None = None) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            TransformerBlock(config.dim, config.num_heads, cond_dim) for _ in range(config.depth)
        )

    def forward(self, latent: Tensor, cond: Tensor | None = None) -> Tensor:
        """latent (B, L, D), cond (B, cond_dim) -> latent (B, L, D)."""
        for block in self.blocks:
            latent = block(latent, cond)
        return latent
