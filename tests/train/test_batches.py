"""The batch schedule: epochs cover the data, ranks partition batches, resumes repeat exactly."""

import pytest

from upt_train.batches import BatchSchedule


def test_each_epoch_visits_every_sample_once() -> None:
    schedule = BatchSchedule(num_samples=10, batch_size=4, grad_accum_steps=2, world_size=1, seed=3)
    seen = [i for step in range(5) for micro in range(2) for i in schedule.indices(step, micro, 0)]
    assert sorted(seen[:10]) == list(range(10))
    assert sorted(seen[10:20]) == list(range(10))
    assert seen[:10] != seen[10:20]  # a fresh permutation per epoch


def test_ranks_split_the_global_batch() -> None:
    single = BatchSchedule(num_samples=7, batch_size=4, grad_accum_steps=1, world_size=1, seed=0)
    double = BatchSchedule(num_samples=7, batch_size=4, grad_accum_steps=1, world_size=2, seed=0)
    for step in range(6):
        assert double.indices(step, 0, 0) + double.indices(step, 0, 1) == single.indices(step, 0, 0)


def test_same_seed_same_batches_and_other_seed_other_batches() -> None:
    def batches(seed: int) -> list[list[int]]:
        schedule = BatchSchedule(
            num_samples=50, batch_size=8, grad_accum_steps=1, world_size=1, seed=seed
        )
        return [schedule.indices(step, 0, 0) for step in range(5)]

    assert batches(1) == batches(1)
    assert batches(1) != batches(2)


def test_uneven_splits_are_rejected() -> None:
    with pytest.raises(ValueError, match="must split evenly"):
        BatchSchedule(num_samples=10, batch_size=6, grad_accum_steps=4, world_size=1, seed=0)
    with pytest.raises(ValueError, match="divisible by the number of processes"):
        BatchSchedule(num_samples=10, batch_size=6, grad_accum_steps=2, world_size=2, seed=0)
