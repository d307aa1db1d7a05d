"""Datasets: what each item holds, point subsets, workers, and bad arguments."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from upt_data import (
    FieldStore,
    IndexOutOfRangeError,
    InvalidArgumentError,
    NextStepDataset,
    TrajectoryDataset,
)


def test_next_step_item_holds_the_stored_frames(small_store: FieldStore) -> None:
    dataset = NextStepDataset(small_store.url, "valid", stride=2)
    assert len(dataset) == 2 * (11 - 2)
    item = dataset[9 + 4]  # trajectory 1, time index 4
    frames = small_store.normalization.normalize(small_store.read_trajectories("valid", [1])[0])
    np.testing.assert_array_equal(item["fields_orig"].numpy(), frames[4])
    np.testing.assert_array_equal(item["target"].numpy(), frames[None, 6])
    np.testing.assert_array_equal(item["coords"].numpy(), small_store.coords.astype(np.float32))
    assert item["meta"]["trajectory"] == 1
    assert item["meta"]["time_index"] == 4
    assert item["meta"]["dt"] == pytest.approx(2 * 0.05)
    assert item["meta"]["viscosity"] == 0.05
    assert item["meta"]["grid_shape"] == (32,)


def test_several_steps_hold_the_frames_at_each_stride(small_store: FieldStore) -> None:
    dataset = NextStepDataset(small_store.url, "valid", stride=2, num_steps=3, query_points=7)
    assert len(dataset) == 2 * (11 - 6)
    item = dataset[5 + 1]  # trajectory 1, time index 1
    frames = small_store.normalization.normalize(small_store.read_trajectories("valid", [1])[0])
    assert item["target"].shape == (3, 7, 1)
    index = torch.searchsorted(
        torch.from_numpy(small_store.coords[:, 0]).float(), item["query_coords"][:, 0]
    )
    np.testing.assert_array_equal(item["target"].numpy(), frames[[3, 5, 7]][:, index.numpy()])


def test_random_shifts_move_every_point_by_one_offset(small_store: FieldStore) -> None:
    plain = NextStepDataset(small_store.url, query_points=9)
    shifted = NextStepDataset(small_store.url, query_points=9, random_shift=True)
    generator = torch.Generator().manual_seed(3)
    a, b = plain.sample(4, generator), shifted.sample(4, torch.Generator().manual_seed(3))
    torch.testing.assert_close(a["fields_orig"], b["fields_orig"])
    torch.testing.assert_close(a["target"], b["target"])
    offset = (b["coords"] - a["coords"]).remainder(1.0)
    torch.testing.assert_close(offset, offset[:1].expand_as(offset), atol=1e-6, rtol=0)
    torch.testing.assert_close(
        (b["query_coords"] - a["query_coords"]).remainder(1.0),
        offset[:1].expand(9, 1),
        atol=1e-6,
        rtol=0,
    )
    assert (b["coords"] >= 0).all()
    assert (b["coords"] < 1).all()


def test_unnormalized_items_are_in_physical_units(small_store: FieldStore) -> None:
    item = NextStepDataset(small_store.url, "train", normalize=False)[0]
    np.testing.assert_array_equal(
        item["fields_orig"].numpy(), small_store.read_trajectories("train", [0])[0, 0]
    )


def test_point_subsets_are_consistent_and_seeded(small_store: FieldStore) -> None:
    dataset = NextStepDataset(small_store.url, input_points=12, query_points=5, seed=1)
    item = dataset[3]
    assert item["fields_orig"].shape == (12, 1)
    assert item["coords"].shape == (12, 1)
    assert item["query_coords"].shape == (5, 1)
    assert item["target"].shape == (1, 5, 1)
    full = NextStepDataset(small_store.url, seed=1)[3]
    index = torch.searchsorted(full["coords"][:, 0], item["coords"][:, 0])
    torch.testing.assert_close(full["fields_orig"][index], item["fields_orig"])
    assert len(set(index.tolist())) == 12
    torch.testing.assert_close(dataset[3]["coords"], item["coords"])
    dataset.set_epoch(1)
    assert not torch.equal(dataset[3]["coords"], item["coords"])


def test_two_workers_give_the_same_samples_as_none(small_store: FieldStore) -> None:
    dataset = NextStepDataset(small_store.url, input_points=10, query_points=6, seed=3)

    def collect(workers: int) -> list[dict]:
        loader = DataLoader(dataset, batch_size=4, num_workers=workers, shuffle=False)
        return list(loader)

    for serial, parallel in zip(collect(0), collect(2), strict=True):
        for key in ("fields_orig", "coords", "query_coords", "target"):
            torch.testing.assert_close(serial[key], parallel[key], rtol=0, atol=0)
        torch.testing.assert_close(serial["meta"]["time_index"], parallel["meta"]["time_index"])


def test_trajectory_dataset(small_store: FieldStore) -> None:
    dataset = TrajectoryDataset(small_store.url, "test")
    assert len(dataset) == 3
    item = dataset[2]
    assert item["fields"].shape == (11, 32, 1)
    assert item["times"].shape == (11,)
    assert item["meta"]["trajectory"] == 2
    with pytest.raises(IndexOutOfRangeError, match="trajectory 3 out of range"):
        dataset[3]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stride": 0}, r"stride must lie in \[1, 10\]"),
        ({"stride": 11}, r"stride must lie in \[1, 10\]"),
        ({"input_points": 0}, r"input_points must be None or lie in \[1, 32\]"),
        ({"query_points": 33}, r"query_points must be None or lie in \[1, 32\]"),
        ({"split": "training"}, "split must be one of"),
        ({"stride": 4, "num_steps": 3}, r"num_steps \* stride must lie in \[1, 10\]"),
    ],
)
def test_bad_arguments(small_store: FieldStore, kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        NextStepDataset(small_store.url, **kwargs)


def test_index_out_of_range(small_store: FieldStore) -> None:
    dataset = NextStepDataset(small_store.url, "test")
    with pytest.raises(IndexOutOfRangeError, match="index 30 out of range for 30 samples"):
        dataset[30]


def test_grid_stride_keeps_every_kth_point(small_store: FieldStore) -> None:
    coarse = NextStepDataset(small_store.url, grid_stride=4, query_points=3, seed=2)[5]
    full = NextStepDataset(small_store.url)[5]
    assert coarse["coords"].shape == (8, 1)
    torch.testing.assert_close(coarse["coords"], full["coords"][::4])
    torch.testing.assert_close(coarse["fields_orig"], full["fields_orig"][::4])
    assert set(coarse["query_coords"][:, 0].tolist()) <= set(full["coords"][::4, 0].tolist())
    with pytest.raises(InvalidArgumentError, match="grid_stride must be >= 1 and divide the 32"):
        NextStepDataset(small_store.url, grid_stride=3)
