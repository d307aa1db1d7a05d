"""What a learned attention bias costs one attention call, forward + backward, by how it is applied.

    OMP_NUM_THREADS=1 uv run python -m benchmarks.attention_bias
    uv run python -m benchmarks.attention_bias --device cuda

Self-attention of B x L tokens (H heads of C channels) at the grid latent's shapes, with the
relative position bias as the model applies it (a (1, H, L, L) tensor gathered from a learned
table of offsets), timed four ways, median of `--repeats`: no bias; the bias as a constant
(`scaled_dot_product_attention` with an `attn_mask` that needs no gradient); the bias learned (the
same, with a gradient: what SDPA runs in training); the learned bias through the model's own
`upt_models.attention.scaled_dot_product_attention` (on the CPU: written out a chunk of samples at
a time; elsewhere SDPA); and, where FlexAttention can train (CUDA here), the learned table read
inside a compiled `score_mod`. Ratios are against no bias, in one run.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from upt_models.attention import scaled_dot_product_attention

from .common import median_seconds, synchronized

# (name, batch, heads, tokens, channels per head): the tiny CPU default and grid-8m on Burgers.
SHAPES = (("tiny", 16, 4, 64, 16), ("grid-8m", 32, 4, 256, 64))


def offset_index(tokens: int) -> Tensor:
    """(L, L) index of the periodic offset i - j, in [0, L)."""
    cells = torch.arange(tokens)
    return (cells[:, None] - cells[None, :]).remainder(tokens)


def flex(q: Tensor, k: Tensor, v: Tensor, table: Tensor, index: Tensor) -> Callable[[], Tensor]:
    from torch.nn.attention.flex_attention import flex_attention

    compiled = torch.compile(flex_attention)

    def score_mod(score: Tensor, b: Tensor, h: Tensor, q_idx: Tensor, kv_idx: Tensor) -> Tensor:
        return score + table[h, index[q_idx, kv_idx]]

    return lambda: compiled(q, k, v, score_mod=score_mod)


def timings(
    shape: tuple[int, int, int, int], device: torch.device, dtype: torch.dtype, repeats: int
) -> dict[str, float]:
    batch, heads, tokens, channels = shape
    q, k, v = (
        torch.randn(batch, heads, tokens, channels, device=device, dtype=dtype, requires_grad=True)
        for _ in range(3)
    )
    table = torch.randn(heads, tokens, device=device, dtype=dtype, requires_grad=True)
    index = offset_index(tokens).to(device)

    def sdpa(bias: Tensor | None = None) -> Tensor:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)

    def bias(values: Tensor) -> Tensor:
        """(1, H, L, L) from the table, gathered as `RelativePositionBias` gathers it."""
        return values.index_select(1, index.flatten()).reshape(1, heads, tokens, tokens)

    variants: dict[str, Callable[[], Tensor]] = {
        "no bias": sdpa,
        "constant bias": lambda: sdpa(bias(table.detach())),
        "learned bias": lambda: sdpa(bias(table)),
        "learned bias, the model's path": lambda: scaled_dot_product_attention(
            q, k, v, bias(table)
        ),
    }
    if device.type == "cuda":
        variants["learned bias, FlexAttention"] = flex(q, k, v, table, index)

    def train(forward: Callable[[], Tensor]) -> Callable[[], None]:
        return lambda: forward().sum().backward()

    return {
        name: median_seconds(synchronized(train(forward), device), repeats)
        for name, forward in variants.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtypes = (torch.float32,) if device.type == "cpu" else (torch.float32, torch.bfloat16)
    print("| shape (B, H, L, C) | dtype | variant | forward + backward (ms) | over no bias |")
    print("| --- | --- | --- | --- | --- |")
    for name, *shape in SHAPES:
        for dtype in dtypes:
            seconds = timings(tuple(shape), device, dtype, args.repeats)
            for variant, value in seconds.items():
                print(
                    f"| {name} {tuple(shape)} | {str(dtype).removeprefix('torch.')} | {variant} "
                    f"| {1e3 * value:.3f} | {value / seconds['no bias']:.2f}x |"
                )


if __name__ == "__main__":
    main()
