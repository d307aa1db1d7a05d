"""The written-out attention that a learned bias takes on the CPU against torch's own SDPA."""

import pytest
import torch
import torch.nn.functional as F

from upt_models.attention import scaled_dot_product_attention


def _inputs(batch: int, bias_batch: int, masked: bool) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(batch * 10 + bias_batch + masked)
    heads, queries, keys, channels = 3, 5, 7, 4

    def tensor(*shape: int) -> torch.Tensor:
        values = torch.randn(*shape, generator=generator, dtype=torch.float64)
        return values.requires_grad_()

    q, k, v = (
        tensor(batch, heads, queries, channels),
        *(tensor(batch, heads, keys, channels) for _ in range(2)),
    )
    bias = tensor(bias_batch, heads, queries, keys)
    if masked:  # the last two keys of every sample masked out, as Attention does with key_mask
        keep = torch.arange(keys) < keys - 2
        bias = torch.where(keep, bias, float("-inf"))
    return [q, k, v, bias]


@pytest.mark.parametrize("bias_batch", [1, 5])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("scores_per_chunk", [1, 2 * 3 * 5 * 7, 10**6])
def test_a_learned_bias_gives_sdpas_values_and_gradients(
    bias_batch: int, masked: bool, scores_per_chunk: int
) -> None:
    # chunks of 1, 2 (5 samples: an uneven split) and all 5 samples
    inputs = _inputs(5, bias_batch, masked)
    leaves = [t for t in inputs if t.is_leaf]
    upstream = torch.randn(5, 3, 5, 4, dtype=torch.float64)

    def values_and_gradients(attention) -> list[torch.Tensor]:
        out = attention(*inputs)
        return [out, *torch.autograd.grad((out * upstream).sum(), leaves)]

    expected = values_and_gradients(
        lambda q, k, v, bias: F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    )
    actual = values_and_gradients(
        lambda q, k, v, bias: scaled_dot_product_attention(q, k, v, bias, scores_per_chunk)
    )
    for got, want in zip(actual, expected, strict=True):
        torch.testing.assert_close(got, want)


def test_masked_keys_get_no_attention_and_no_gradient() -> None:
    q, k, v, bias = _inputs(2, 1, masked=True)
    out = scaled_dot_product_attention(q, k, v, bias)
    grad_v = torch.autograd.grad(out.sum(), v)[0]
    assert (grad_v[:, :, -2:] == 0).all()
    assert grad_v[:, :, :-2].abs().min() > 0
