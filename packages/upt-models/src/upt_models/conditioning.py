"""Embedding of conditioning scalars (viscosity, step size, ...) into one condition vector."""

from torch import Tensor, nn

from upt_models.embedding import SincosEmbedding


class ScalarConditioner(nn.Module):
    """(B, num_scalars) -> (B, cond_dim): per scalar a sin-cos embedding and an MLP, summed.

    As the PDE-Arena style conditioner of the official UPT (one MLP per scalar, width 4 * dim).
    """

    def __init__(self, num_scalars: int, dim: int, cond_dim: int, embed_scale: float) -> None:
        super().__init__()
        self.embed = SincosEmbedding(dim, num_axes=1, scale=embed_scale)
        self.mlps = nn.ModuleList(
            nn.Sequential(
                nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, cond_dim), nn.GELU()
            )
            for _ in range(num_scalars)
        )

    def forward(self, scalars: Tensor) -> Tensor:
        """scalars (B, num_scalars) -> condition (B, cond_dim)."""
        embedded = self.embed(scalars[..., None])
        return sum(mlp(embedded[:, i]) for i, mlp in enumerate(self.mlps))
