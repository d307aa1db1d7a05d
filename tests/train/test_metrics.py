"""Rollout metrics against their textbook definitions, on values worked out by hand."""

import math

import pytest
import torch

from upt_train.metrics import correlation_per_step, correlation_time, nrmse, nrmse_per_step


def test_nrmse_of_a_scaled_field_is_the_scale_error() -> None:
    target = torch.randn(3, 4, 50, 2)
    assert nrmse(1.1 * target, target) == pytest.approx(0.1)


def test_nrmse_by_hand() -> None:
    # One trajectory, one channel, two steps over two points.
    # Step 1: target [3, 4] (norm 5), error [0, 1] -> 1/5.
    # Step 2: target [1, 0] (norm 1), error [1, 1] -> sqrt 2.
    target = torch.tensor([[[[3.0], [4.0]], [[1.0], [0.0]]]])
    prediction = torch.tensor([[[[3.0], [5.0]], [[2.0], [1.0]]]])
    per_step = nrmse_per_step(prediction, target)
    assert per_step.tolist() == pytest.approx([0.2, math.sqrt(2)])
    assert nrmse(prediction, target) == pytest.approx((0.2 + math.sqrt(2)) / 2)


def test_nrmse_averages_ratios_not_norms() -> None:
    # Two trajectories with very different scales weigh the same: ratios 0.5 and 0.0.
    target = torch.tensor([[[[2.0]]], [[[200.0]]]])
    prediction = torch.tensor([[[[1.0]]], [[[200.0]]]])
    assert nrmse(prediction, target) == pytest.approx(0.25)


def test_correlation_by_hand() -> None:
    x = torch.linspace(0, 1, 64)
    field = torch.sin(2 * math.pi * x)
    orthogonal = torch.cos(2 * math.pi * x[:-1])
    target = torch.stack([field, field, field]).view(1, 3, 64, 1)
    prediction = torch.stack([3 * field + 2, -field, torch.cat([orthogonal, orthogonal[:1]])])
    correlation = correlation_per_step(prediction.view(1, 3, 64, 1), target)
    assert correlation[0].item() == pytest.approx(1.0)
    assert correlation[1].item() == pytest.approx(-1.0)
    assert abs(correlation[2].item()) < 0.05


def test_correlation_time_is_the_first_step_below_threshold() -> None:
    assert correlation_time(torch.tensor([1.0, 0.9, 0.85, 0.7, 0.9])) == 4
    assert correlation_time(torch.tensor([0.5, 0.9])) == 1
    assert correlation_time(torch.tensor([0.95, 0.9])) is None
    assert correlation_time(torch.tensor([0.95, 0.9]), threshold=0.92) == 2


def test_mismatched_shapes_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"\(B, T, N, C\); got \(1, 2, 3, 1\) and \(1, 2, 4, 1\)"):
        nrmse(torch.zeros(1, 2, 3, 1), torch.zeros(1, 2, 4, 1))


def test_padding_never_counts() -> None:
    """A padded batch scores exactly as its clouds alone, whatever the padding holds."""
    generator = torch.Generator().manual_seed(0)
    short = (
        torch.randn(1, 3, 5, 2, generator=generator),
        torch.randn(1, 3, 5, 2, generator=generator),
    )
    long = (
        torch.randn(1, 3, 9, 2, generator=generator),
        torch.randn(1, 3, 9, 2, generator=generator),
    )
    padded = [torch.full((2, 3, 9, 2), torch.nan) for _ in range(2)]
    for index, (prediction, target) in enumerate((short, long)):
        n = prediction.shape[2]
        padded[0][index, :, :n], padded[1][index, :, :n] = prediction[0], target[0]
    mask = torch.arange(9)[None] < torch.tensor([[5], [9]])
    expected = (nrmse_per_step(*short) + nrmse_per_step(*long)) / 2
    torch.testing.assert_close(nrmse_per_step(*padded, mask), expected)
    expected = (correlation_per_step(*short) + correlation_per_step(*long)) / 2
    torch.testing.assert_close(correlation_per_step(*padded, mask), expected)
