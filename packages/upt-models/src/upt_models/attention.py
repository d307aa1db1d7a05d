"""Multi-head attention through `F.scaled_dot_product_attention`."""

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn


class Attention(nn.Module):
    """Multi-head attention of `query` tokens over `context` tokens (self-attention when equal)."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} must be divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(
        self,
        query: Tensor,
        context: Tensor,
        key_mask: Tensor | None = None,
        bias: Tensor | None = None,
    ) -> Tensor:
        """query (B, Q, D), context (B, K, D), key_mask (B, K) bool, True = attend,
        bias (B | 1, H, Q, K) added to the logits -> (B, Q, D)."""
        q = rearrange(self.q(query), "b q (h c) -> b h q c", h=self.num_heads)
        k, v = rearrange(self.kv(context), "b k (two h c) -> two b h k c", two=2, h=self.num_heads)
        attn_mask = None if key_mask is None else rearrange(key_mask, "b k -> b 1 1 k")
        if bias is not None:
            bias = bias.to(q.dtype)
            if attn_mask is not None:
                bias = torch.where(attn_mask, bias, float("-inf"))
            attn_mask = bias
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.proj(rearrange(out, "b h q c -> b q (h c)"))
