"""Multi-head attention through `F.scaled_dot_product_attention`, or written out for a learned
bias on the CPU."""

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

# Score elements (samples x heads x queries x keys) per chunk of the written-out attention: 1 MiB
# of float32, so that a chunk's scores stay in cache through the softmax and its backward.
SCORES_PER_CHUNK = 2**18


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    bias: Tensor | None = None,
    scores_per_chunk: int = SCORES_PER_CHUNK,
) -> Tensor:
    """softmax(q k^T / sqrt(C) + bias) v for q (B, H, Q, C), k and v (B, H, K, C), bias
    (B | 1, H, Q, K).

    The CPU's fused kernels give no gradient for a bias, so with a bias that needs one,
    `F.scaled_dot_product_attention` falls back to a path that runs the whole (B, H, Q, K) score
    tensor through each step of the softmax and its backward (1.55-1.74x an unbiased call).
    There the attention is written out a chunk of samples at a time instead, which keeps each
    chunk's scores in cache (1.05-1.16x; `benchmarks/attention_bias.py`). Elsewhere, and without
    a gradient, SDPA runs as is.
    """
    learned = bias is not None and bias.requires_grad and torch.is_grad_enabled()
    if not learned or q.device.type != "cpu":
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    heads, queries = q.shape[1:3]
    per_chunk = max(1, scores_per_chunk // (heads * queries * k.shape[2]))
    if per_chunk >= len(q):  # one chunk: no split, and no copy to join
        return _written_out(q, k, v, bias)
    qs, ks, vs = q.split(per_chunk), k.split(per_chunk), v.split(per_chunk)
    # a bias shared by the batch stays (1, H, Q, K): its gradient is summed chunk by chunk
    biases = bias.split(per_chunk) if bias.shape[0] > 1 else [bias] * len(qs)
    return torch.cat([_written_out(*chunk) for chunk in zip(qs, ks, vs, biases, strict=True)])


def _written_out(q: Tensor, k: Tensor, v: Tensor, bias: Tensor) -> Tensor:
    scores = torch.matmul(q * q.shape[-1] ** -0.5, k.transpose(-1, -2)).add_(bias)
    return torch.matmul(scores.softmax(dim=-1), v)


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
        out = scaled_dot_product_attention(q, k, v, attn_mask)
        return self.proj(rearrange(out, "b h q c -> b q (h c)"))
