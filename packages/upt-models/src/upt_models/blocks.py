"""Pre-norm transformer and perceiver blocks, optionally conditioned through DiT-style adaLN."""

import itertools

from einops import rearrange
from torch import Tensor, nn

from upt_models.attention import Attention


class AdaptiveLayerNorm(nn.Module):
    """LayerNorm whose scale, shift and residual gate come from a condition (DiT adaLN).

    Without `cond_dim` it is an ordinary affine LayerNorm and returns no gate.
    """

    def __init__(self, dim: int, cond_dim: int | None = None, gate: bool = True) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=1e-6, elementwise_affine=cond_dim is None)
        self.num_outputs = 3 if gate else 2
        self.modulation = None if cond_dim is None else nn.Linear(cond_dim, self.num_outputs * dim)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """x (B, N, D), cond (B, cond_dim) -> normalized x (B, N, D), gate (B, 1, D) or None."""
        x = self.norm(x)
        if self.modulation is None:
            return x, None
        scale, shift, *gate = rearrange(
            self.modulation(cond), "b (k d) -> k b 1 d", k=self.num_outputs
        )
        return x * (1 + scale) + shift, (gate[0] if gate else None)


def _gated(x: Tensor, gate: Tensor | None) -> Tensor:
    return x if gate is None else x * gate


def mlp(*widths: int) -> nn.Sequential:
    """Linear layers of the given widths with GELU between them."""
    layers: list[nn.Module] = []
    for i, (width_in, width_out) in enumerate(itertools.pairwise(widths)):
        layers += [nn.GELU()] if i else []
        layers.append(nn.Linear(width_in, width_out))
    return nn.Sequential(*layers)


class Mlp(nn.Sequential):
    """Two-layer GELU MLP with hidden width `ratio * dim`."""

    def __init__(self, dim: int, ratio: int = 4) -> None:
        super().__init__(nn.Linear(dim, ratio * dim), nn.GELU(), nn.Linear(ratio * dim, dim))


class TransformerBlock(nn.Module):
    """Pre-norm self-attention + MLP block; adaLN-conditioned when `cond_dim` is given."""

    def __init__(self, dim: int, num_heads: int, cond_dim: int | None = None) -> None:
        super().__init__()
        self.norm1 = AdaptiveLayerNorm(dim, cond_dim)
        self.attn = Attention(dim, num_heads)
        self.norm2 = AdaptiveLayerNorm(dim, cond_dim)
        self.mlp = Mlp(dim)

    def forward(
        self,
        x: Tensor,
        cond: Tensor | None = None,
        key_mask: Tensor | None = None,
        bias: Tensor | None = None,
    ) -> Tensor:
        """x (B, N, D), cond (B, cond_dim), key_mask (B, N) bool, bias (B | 1, H, N, N) added to
        the attention logits -> (B, N, D)."""
        h, gate = self.norm1(x, cond)
        x = x + _gated(self.attn(h, h, key_mask, bias), gate)
        h, gate = self.norm2(x, cond)
        return x + _gated(self.mlp(h), gate)


class PerceiverBlock(nn.Module):
    """Cross-attention from query tokens to context tokens + MLP on the queries.

    Queries never attend to each other, so each query's output depends only on itself and the
    context.
    """

    def __init__(self, dim: int, num_heads: int, cond_dim: int | None = None) -> None:
        super().__init__()
        self.norm_query = AdaptiveLayerNorm(dim, cond_dim)
        self.norm_context = AdaptiveLayerNorm(dim, cond_dim, gate=False)
        self.attn = Attention(dim, num_heads)
        self.norm_mlp = AdaptiveLayerNorm(dim, cond_dim)
        self.mlp = Mlp(dim)

    def forward(
        self,
        query: Tensor,
        context: Tensor,
        cond: Tensor | None = None,
        key_mask: Tensor | None = None,
        bias: Tensor | None = None,
    ) -> Tensor:
        """query (B, Q, D), context (B, K, D), key_mask (B, K) bool, bias (B, H, Q, K) added to
        the attention logits -> (B, Q, D)."""
        q, gate = self.norm_query(query, cond)
        kv, _ = self.norm_context(context, cond)
        query = query + _gated(self.attn(q, kv, key_mask, bias), gate)
        h, gate = self.norm_mlp(query, cond)
        return query + _gated(self.mlp(h), gate)
