"""Warm-up then cosine: checked at the points where the formula is known by heart."""

import itertools

import pytest

from upt_train.schedule import learning_rate


def lr(step: int) -> float:
    return learning_rate(step, base_lr=1.0, warmup_steps=10, max_steps=110, min_lr=0.1)


def test_warm_up_is_linear_from_the_first_step() -> None:
    assert [lr(s) for s in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])


def test_cosine_runs_from_the_base_to_the_floor() -> None:
    assert lr(10) == pytest.approx(1.0)
    assert lr(60) == pytest.approx(0.55)  # half way: the mean of base and floor
    assert lr(110) == pytest.approx(0.1)
    assert lr(500) == pytest.approx(0.1)


def test_decay_is_monotone() -> None:
    values = [lr(s) for s in range(10, 111)]
    assert all(a >= b for a, b in itertools.pairwise(values))
