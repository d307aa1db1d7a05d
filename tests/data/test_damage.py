"""Damaged stores, oversized requests, interrupted and racing writers: every case ends in a
one-line error or is handled, and no store is ever taken for complete when it is not."""

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from upt_data import (
    BurgersSpec,
    DamagedStoreError,
    FieldStore,
    InputFileError,
    InvalidArgumentError,
    NonFiniteDataError,
    generate_burgers_store,
    import_pdebench,
)
from upt_data.cli import main
from upt_data.writer import StoreWriter


def chunk(store: Path, split: str, trajectory: int) -> Path:
    return store / split / "fields" / "c" / str(trajectory) / "0" / "0" / "0"


def test_a_deleted_chunk_is_an_error_never_zeros(store_copy: Path, capsys) -> None:
    chunk(store_copy, "train", 2).unlink()
    store = FieldStore.open(store_copy)
    store.read_trajectories("train", [1])
    with pytest.raises(NonFiniteDataError, match=r"trajectories \[2\] \(a missing chunk"):
        store.read_trajectories("train", [2])
    assert main(["info", str(store_copy), "--check"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("upt-data: error: ")
    assert "split 'train' holds NaN or Inf in trajectories [2]" in error


CORRUPTIONS = {
    "zero bytes": lambda data, cut: b"",
    "truncated": lambda data, cut: data[: max(1, cut % len(data))],
    "garbage": lambda data, cut: bytes((b * 7 + cut) % 256 for b in data),
    "garbage header": lambda data, cut: bytes(16) + data[16:],
}


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(CORRUPTIONS)), cut=st.integers(1, 10**6), seed=st.integers(0, 3))
def test_damaged_chunks_are_named_one_line(
    small_store: FieldStore, tmp_path_factory, kind: str, cut: int, seed: int
) -> None:
    copy = tmp_path_factory.mktemp("damaged") / "store.zarr"
    shutil.copytree(small_store.url, copy)
    target = chunk(copy, "test", seed % 3)
    target.write_bytes(CORRUPTIONS[kind](target.read_bytes(), cut))
    store = FieldStore.open(copy)
    with pytest.raises((DamagedStoreError, NonFiniteDataError)) as caught:
        store.check()
    message = str(caught.value)
    assert "\n" not in message
    assert f"trajectory {seed % 3} of split 'test'" in message or (
        f"trajectories [{seed % 3}]" in message
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"resolution": 2**30}, r"resolution must be a power of two in \[8, 65536\]"),
        ({"num_train": 10**9}, "at most 1000000 trajectories"),
        ({"num_frames": 10**9}, "num_frames must be at most"),
        ({"seed": -1}, "seed must be >= 0"),
    ],
)
def test_oversized_or_bad_requests_are_refused_at_once(
    small_spec: BurgersSpec, changes: dict, message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        dataclasses.replace(small_spec, **changes)


def test_a_store_that_cannot_fit_on_disk_is_refused_before_any_work(
    small_spec: BurgersSpec, tmp_path: Path
) -> None:
    huge = dataclasses.replace(small_spec, resolution=2**16, num_train=500_000, num_frames=2000)
    started = time.perf_counter()
    with pytest.raises(InvalidArgumentError, match="GiB free"):
        generate_burgers_store(str(tmp_path / "huge.zarr"), huge, progress=False)
    assert time.perf_counter() - started < 5
    assert list(tmp_path.iterdir()) == []


def test_a_constant_field_is_refused(tmp_path: Path) -> None:
    writer = StoreWriter(
        str(tmp_path / "flat.zarr"),
        np.linspace(0, 1, 8, endpoint=False)[:, None],
        np.linspace(0, 1, 3),
        {"train": 2, "valid": 0, "test": 0},
        1,
        {
            "equation": "u = 3",
            "viscosity": 0.1,
            "initial_conditions": "constant",
            "generator": "test",
            "generator_version": "0",
            "seed": 0,
        },
    )
    writer.write("train", 0, np.full((2, 3, 8, 1), 3.0))
    with pytest.raises(InvalidArgumentError, match=r"constant in channels \[0\]"):
        writer.finish()
    writer.abort()
    assert not (tmp_path / "flat.zarr").exists()


def test_a_writer_that_loses_the_race_uses_the_finished_store(
    small_store: FieldStore, small_spec: BurgersSpec, tmp_path: Path
) -> None:
    url = str(tmp_path / "raced.zarr")
    writer = StoreWriter(
        url,
        small_store.coords,
        small_store.times,
        small_spec.split_sizes,
        1,
        {
            "equation": "x",
            "viscosity": 0.05,
            "initial_conditions": "x",
            "generator": "x",
            "generator_version": "1",
            "seed": 7,
            "periodic": True,
        },
    )
    for split in ("train", "valid", "test"):
        writer.write(split, 0, small_store.read_trajectories(split, slice(None)))
    shutil.copytree(small_store.url, url)  # another process finished first
    assert writer.finish() == url
    assert FieldStore.open(url).attrs == small_store.attrs
    assert [p.name for p in tmp_path.iterdir()] == ["raced.zarr"]


def test_leftovers_of_a_killed_generation_are_cleaned_on_the_next_run(
    small_spec: BurgersSpec, tmp_path: Path
) -> None:
    url = tmp_path / "store.zarr"
    spec = dataclasses.replace(small_spec, num_train=64, solver_batch=1)
    code = (
        "import sys; from upt_data import BurgersSpec, generate_burgers_store; "
        f"generate_burgers_store({str(url)!r}, BurgersSpec(**{dataclasses.asdict(spec)!r}), "
        "progress=False)"
    )
    process = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.time() + 60
    while not list(tmp_path.glob(".store.zarr.partial-*")) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not url.exists()  # a partial store is never taken for a complete one
    assert list(tmp_path.glob(".store.zarr.partial-*"))
    generate_burgers_store(str(url), small_spec, progress=False)
    assert FieldStore.open(url).num_trajectories("train") == small_spec.num_train
    assert not list(tmp_path.glob(".store.zarr.partial-*"))


def _pdebench_file(path: Path, tensor: np.ndarray) -> Path:
    with h5py.File(path, "w") as file:
        file["tensor"] = tensor
        file["x-coordinate"] = (np.arange(tensor.shape[2]) + 0.5) / tensor.shape[2]
        file["t-coordinate"] = np.linspace(0, 1, tensor.shape[1] + 1)
    return path


@pytest.mark.parametrize(
    ("tensor", "viscosity", "error", "message"),
    [
        (np.zeros((0, 5, 16)), 0.01, InputFileError, "holds no trajectories"),
        (np.ones((4, 5, 16), dtype=np.complex64), 0.01, InputFileError, "complex64 values"),
        (np.random.default_rng(0).random((4, 5, 16)), -0.01, InvalidArgumentError, "positive"),
    ],
)
def test_bad_pdebench_files_leave_no_store(
    tmp_path: Path, tensor: np.ndarray, viscosity: float, error: type, message: str
) -> None:
    source = _pdebench_file(tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5", tensor)
    with pytest.raises(error, match=message):
        import_pdebench(source, str(tmp_path / "out.zarr"), viscosity=viscosity, progress=False)
    assert not (tmp_path / "out.zarr").exists()
    assert not list(tmp_path.glob(".out.zarr.partial-*"))


@pytest.mark.parametrize("url", ["nosuchprotocol://bucket/store.zarr", "s3a://bucket/x.zarr"])
def test_unknown_protocols_are_one_line(url: str, capsys) -> None:
    assert main(["info", url]) == 2
    error = capsys.readouterr().err
    assert error.startswith("upt-data: error: ")
    assert "cannot open the protocol" in error
    assert error.count("\n") == 1


def test_an_unwritable_output_is_one_line(capsys) -> None:
    assert main(["generate", "burgers", "--out", "/proc/no/such/store.zarr"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("upt-data: error: ")
    assert error.count("\n") == 1
