"""Anchored latent tokens: a fixed point in the unit cube per token and a distance bias.

Cross-attention between points and latent tokens starts out nearly uniform, so on zero-mean
fields every token pools the same average and the decoder reads nothing position-dependent: a
coupled saddle that keeps a model at the predict-zero plateau (upt-models' README has the
measurements).
Anchoring token l at a point a_l and adding -|x - a_l|^2 / (2 w_h^2) to the attention logits of
head h makes each token a local summary from the first step; the widths w_h are learned, so a
head can still widen to global attention.
"""

import torch
from torch import Tensor, nn

from upt_models.geometry import squared_distance


def anchor_points(num_tokens: int, coord_dim: int) -> Tensor:
    """`num_tokens` well-spread points (num_tokens, coord_dim) in [0, 1)^coord_dim: the first
    points of the Sobol sequence, shifted by half a cell so none sits on the boundary."""
    points = torch.quasirandom.SobolEngine(coord_dim, scramble=False).draw(num_tokens)
    return (points.double() + 0.5 / num_tokens).remainder(1.0).float()


class DistanceBias(nn.Module):
    """Per-head attention bias -|a - b|^2 / (2 w_h^2); head h starts at width w_0 * 2^h."""

    def __init__(self, num_heads: int, initial_width: float) -> None:
        super().__init__()
        widths = initial_width * 2.0 ** torch.arange(num_heads, dtype=torch.float32)
        self.log_width = nn.Parameter(widths.log())

    def forward(self, query_points: Tensor, key_points: Tensor) -> Tensor:
        """query_points (B | 1, Q, d), key_points (B | 1, K, d) -> bias (B, heads, Q, K)."""
        squared = squared_distance(query_points, key_points)
        scale = (-2.0 * self.log_width).exp() / 2.0
        return -squared[:, None] * scale[None, :, None, None]
