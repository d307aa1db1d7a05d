"""The batch schedule: epochs cover the data, ranks partition batches, resumes repeat exactly."""

import dataclasses

import pytest
import torch

from upt_data import FieldStore, generate_burgers_store
from upt_train import TrainingData, load_config
from upt_train.batches import BatchSchedule
from upt_train.data import data_spec


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


def test_zero_and_two_loader_workers_give_identical_batches(tmp_path) -> None:
    """The worker count never changes what is sampled, random point subsets included."""

    config = load_config(
        "burgers_quick",
        [
            f"data.store={tmp_path / 'store.zarr'}",
            "data.input_points=10",
            "data.query_points=6",
            "data.random_shift=true",
            "training.grad_accum_steps=2",
        ],
    )
    generate_burgers_store(config.data.store, data_spec(config.data), progress=False)
    store = FieldStore.open(config.data.store)

    def batches(workers: int, start: int) -> list:
        data = dataclasses.replace(config.data, num_workers=workers)
        return list(TrainingData(dataclasses.replace(config, data=data), store).batches(start, 5))

    serial, parallel = batches(0, 0), batches(2, 0)
    assert len(serial) == 10  # 5 steps x 2 micro-batches
    for a, b in zip(serial, parallel, strict=True):
        for name in ("fields", "coords", "query_coords", "target", "cond"):
            torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=0, atol=0)
    resumed = batches(0, 3)  # a resume at step 3 sees what the straight run saw
    for a, b in zip(serial[6:], resumed, strict=True):
        torch.testing.assert_close(a.coords, b.coords, rtol=0, atol=0)
    assert not torch.equal(serial[0].coords, serial[2].coords)


@pytest.mark.parametrize("workers", [0, 2])
def test_queries_at_every_input_point_are_the_input_tensors_on_any_device(
    tmp_path, workers: int
) -> None:
    """Query points that are the input points come as the coords tensor itself, also through
    loader workers and after moving the batch; a subset of them does not."""
    overrides = [f"data.store={tmp_path / 'store.zarr'}", f"data.num_workers={workers}"]
    config = load_config("burgers_quick", [*overrides, "data.query_points=null"])
    generate_burgers_store(config.data.store, data_spec(config.data), progress=False)
    store = FieldStore.open(config.data.store)
    batch = next(TrainingData(config, store).batches(0, 1))
    assert batch.query_coords is batch.coords
    moved = batch.to(torch.device("meta"))
    assert moved.query_coords is moved.coords
    assert moved.fields is not moved.coords
    subset = load_config("burgers_quick", [*overrides, "data.query_points=5"])
    batch = next(TrainingData(subset, store).batches(0, 1))
    assert batch.query_coords is not batch.coords
    assert batch.query_coords.shape[1] == 5
