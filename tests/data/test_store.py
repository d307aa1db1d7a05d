"""Field stores: round trips, determinism, statistics, atomic writes, and every bad input."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import zarr

import upt_data.generate
from upt_data import (
    BurgersSpec,
    FieldStore,
    IndexOutOfRangeError,
    InvalidArgumentError,
    NonFiniteDataError,
    NotAStoreError,
    StoreExistsError,
    StoreLayoutError,
    StoreNotFoundError,
    generate_burgers_store,
)


def test_layout_attributes_and_statistics(small_store: FieldStore, small_spec: BurgersSpec) -> None:
    assert small_store.fields("train").shape == (4, 11, 32, 1)
    assert small_store.fields("valid").shape == (2, 11, 32, 1)
    assert small_store.fields("test").shape == (3, 11, 32, 1)
    assert small_store.fields("train").chunks == (1, 11, 32, 1)
    assert small_store.fields("train").compressors
    np.testing.assert_allclose(small_store.coords[:, 0], (np.arange(32) + 0.5) / 32)
    np.testing.assert_allclose(small_store.times, np.linspace(0, 0.5, 11))
    attrs = small_store.attrs
    assert attrs["viscosity"] == 0.05
    assert attrs["seed"] == 7
    assert attrs["initial_conditions"] == "pdebench-sine-2mode"
    assert "u_t + (u^2/2)_x = (nu/pi) u_xx" in attrs["equation"]
    assert attrs["generator_version"] == upt_data.generate.GENERATOR_VERSION
    train = small_store.read_trajectories("train", slice(None))
    np.testing.assert_allclose(small_store.normalization.mean, [train.mean()], atol=1e-6)
    np.testing.assert_allclose(small_store.normalization.std, [train.std()], rtol=1e-4)


def test_memory_url_round_trip_matches_local(
    small_store: FieldStore, small_spec: BurgersSpec
) -> None:
    in_memory = generate_burgers_store("memory://round-trip/small.zarr", small_spec, progress=False)
    for split in ("train", "valid", "test"):
        np.testing.assert_array_equal(
            in_memory.read_trajectories(split, slice(None)),
            small_store.read_trajectories(split, slice(None)),
        )
    assert FieldStore.open("memory://round-trip/small.zarr").attrs == small_store.attrs


def test_same_seed_same_arrays_other_seed_other_arrays(
    small_store: FieldStore, small_spec: BurgersSpec, tmp_path: Path
) -> None:
    again = generate_burgers_store(str(tmp_path / "again.zarr"), small_spec, progress=False)
    np.testing.assert_array_equal(
        again.read_trajectories("test", slice(None)),
        small_store.read_trajectories("test", slice(None)),
    )
    other_spec = dataclasses.replace(small_spec, seed=8)
    other = generate_burgers_store(str(tmp_path / "other.zarr"), other_spec, progress=False)
    assert not np.array_equal(
        other.read_trajectories("train", [0]), small_store.read_trajectories("train", [0])
    )


def test_splits_draw_different_trajectories(small_store: FieldStore) -> None:
    first = [small_store.read_trajectories(s, [0])[0, 0] for s in ("train", "valid", "test")]
    assert not np.array_equal(first[0], first[1])
    assert not np.array_equal(first[1], first[2])


def test_stores_open_read_only(small_store: FieldStore) -> None:
    with pytest.raises(ValueError, match="read-only"):
        small_store.fields("train")[0] = 0.0


def test_interrupted_generation_leaves_nothing(
    small_spec: BurgersSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    solve = upt_data.generate.solve_burgers

    def crash_on_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return solve(*args, **kwargs)

    monkeypatch.setattr(upt_data.generate, "solve_burgers", crash_on_second_batch)
    with pytest.raises(KeyboardInterrupt):
        generate_burgers_store(str(tmp_path / "store.zarr"), small_spec, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_existing_target_is_not_overwritten(
    small_store: FieldStore, small_spec: BurgersSpec
) -> None:
    with pytest.raises(StoreExistsError, match="already exists"):
        generate_burgers_store(small_store.url, small_spec, progress=False)


@pytest.mark.parametrize(
    "changes",
    [
        {"viscosity": 0.0005},
        {"viscosity": 5.0},
        {"resolution": 100},
        {"num_train": 0},
        {"num_test": -1},
        {"num_frames": 1},
    ],
)
def test_bad_specs_are_rejected(small_spec: BurgersSpec, changes: dict) -> None:
    with pytest.raises(InvalidArgumentError):
        dataclasses.replace(small_spec, **changes)


def test_missing_path_and_non_stores(tmp_path: Path) -> None:
    with pytest.raises(StoreNotFoundError, match="does not exist"):
        FieldStore.open(tmp_path / "absent.zarr")
    with pytest.raises(StoreNotFoundError):
        FieldStore.open("memory://absent/store.zarr")
    (tmp_path / "plain").mkdir()
    with pytest.raises(NotAStoreError, match="not a zarr v3 group"):
        FieldStore.open(tmp_path / "plain")


def test_incomplete_store_is_rejected(store_copy: Path) -> None:
    zarr.open_group(str(store_copy), mode="r+").attrs["complete"] = False
    with pytest.raises(StoreLayoutError, match="not completely written"):
        FieldStore.open(store_copy)


def test_missing_attributes_are_named(store_copy: Path) -> None:
    group = zarr.open_group(str(store_copy), mode="r+")
    attrs = dict(group.attrs)
    del attrs["normalization"]
    group.attrs.clear()
    group.attrs.update(attrs)
    with pytest.raises(StoreLayoutError, match=r"\['normalization'\] are missing"):
        FieldStore.open(store_copy)


def test_wrong_shape_and_dtype_are_named(store_copy: Path) -> None:
    group = zarr.open_group(str(store_copy), mode="r+")
    del group["valid/fields"]
    group.create_array("valid/fields", shape=(2, 11, 16, 1), dtype="float32")
    with pytest.raises(
        StoreLayoutError, match=r"valid/fields must have shape .* found \(2, 11, 16, 1\)"
    ):
        FieldStore.open(store_copy)
    del group["valid/fields"]
    group.create_array("valid/fields", shape=(2, 11, 32, 1), dtype="int32")
    with pytest.raises(StoreLayoutError, match="must be float32 or float64, found int32"):
        FieldStore.open(store_copy)


def test_missing_array_is_named(store_copy: Path) -> None:
    del zarr.open_group(str(store_copy), mode="r+")["times"]
    with pytest.raises(StoreLayoutError, match="array 'times' is missing"):
        FieldStore.open(store_copy)


def test_non_finite_data_and_bad_indices(store_copy: Path) -> None:
    zarr.open_group(str(store_copy), mode="r+")["test/fields"][1, 3, 5, 0] = np.nan
    store = FieldStore.open(store_copy)
    store.read_trajectories("test", [0])
    with pytest.raises(NonFiniteDataError, match=r"trajectories \[1\]"):
        store.read_trajectories("test", [1])
    with pytest.raises(IndexOutOfRangeError, match=r"trajectories \[3\] out of range"):
        store.read_trajectories("test", [3])
    with pytest.raises(IndexOutOfRangeError, match="split must be one of"):
        store.fields("training")
