"""2D Navier-Stokes stores: the grid field, ragged point clouds with exact values, the command."""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import zarr

from upt_data import (
    CloudSpec,
    FieldStore,
    InvalidArgumentError,
    NavierStokesSpec,
    StoreLayoutError,
    generate_ns2d_store,
    sample_cloud,
)
from upt_data.cli import main

SMALL = NavierStokesSpec(
    resolution=16,
    num_frames=3,
    num_train=2,
    num_valid=1,
    num_test=1,
    solver_batch=2,
    clouds=CloudSpec(min_points=40, max_points=70),
)


@pytest.fixture(scope="module")
def ns_store(tmp_path_factory: pytest.TempPathFactory) -> FieldStore:
    path = tmp_path_factory.mktemp("ns2d") / "small.zarr"
    return generate_ns2d_store(str(path), SMALL, progress=False)


def test_layout_and_attributes(ns_store: FieldStore) -> None:
    assert ns_store.fields("train").shape == (2, 3, 256, 1)
    assert ns_store.coords.shape == (256, 2)
    np.testing.assert_allclose(ns_store.coords[17], [1 / 16, 1 / 16])
    np.testing.assert_allclose(ns_store.times, [0.0, 1.0, 2.0])
    assert ns_store.periodic
    assert not ns_store.translation_invariant  # the forcing has a place
    assert ns_store.has_clouds
    assert ns_store.attrs["scheme"]["internal_resolution"] == 128


def test_clouds_are_ragged_and_their_values_are_the_grid_field_s_series(
    ns_store: FieldStore,
) -> None:
    sizes = np.diff(ns_store.cloud_offsets("train"))
    assert all(40 <= size <= 70 for size in sizes)
    coords, fields = ns_store.cloud("train", 1)
    assert coords.shape == (sizes[1], 2)
    assert fields.shape == (3, sizes[1], 1)
    assert (coords >= 0).all()
    assert (coords < 1).all()
    # independent of the generator: the grid values' DFT summed directly at the cloud points
    grid = ns_store.read_trajectories("train", [1])[0, :, :, 0].reshape(3, 16, 16)
    spectrum = np.fft.fft2(grid.astype(np.float64))
    k = np.fft.fftfreq(16, d=1 / 16)
    spectrum[:, k == -8, :] = 0  # the stored series carries no Nyquist modes
    spectrum[:, :, k == -8] = 0
    phases = np.exp(
        2j * np.pi * (coords[:, 0, None, None] * k[:, None] + coords[:, 1, None, None] * k)
    )
    direct = np.einsum("tab,pab->tp", spectrum, phases).real / 256
    np.testing.assert_allclose(fields[..., 0], direct, atol=2e-5 * np.abs(direct).max())


def test_clouds_are_non_uniform_and_have_holes() -> None:
    spec = CloudSpec(min_points=2000, max_points=2000, hole_probability=1.0, max_holes=1)
    cloud = sample_cloud(spec, torch.Generator().manual_seed(0)).numpy()
    assert cloud.shape == (2000, 2)
    counts, _, _ = np.histogram2d(cloud[:, 0], cloud[:, 1], bins=8, range=[[0, 1], [0, 1]])
    assert counts.std() / counts.mean() > 0.5  # uniform points would give about 0.18
    probe = (np.stack(np.meshgrid(*[np.arange(100) / 100] * 2, indexing="ij"), -1)).reshape(-1, 2)
    delta = probe[:, None] - cloud[None]
    delta -= np.round(delta)
    emptiest = np.sqrt((delta**2).sum(-1)).min(axis=1).max()
    assert emptiest > 0.9 * spec.hole_radius[0]
    again = sample_cloud(spec, torch.Generator().manual_seed(0)).numpy()
    np.testing.assert_array_equal(cloud, again)


def test_the_command_generates_and_checks_a_store(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cli.zarr"
    argv = ["generate", "ns2d", "--out", str(out), "--resolution", "16", "--num-frames", "2"]
    argv += ["--num-train", "1", "--num-valid", "0", "--num-test", "1"]
    argv += ["--min-points", "30", "--max-points", "40"]
    assert main(argv) == 0
    assert main(["info", str(out), "--check"]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"train +point clouds: 1, \d+-\d+ points each", printed)
    assert "2 trajectories read back, all finite" in printed


def test_missing_cloud_arrays_are_named(ns_store: FieldStore, tmp_path: Path) -> None:
    copy = tmp_path / "copy.zarr"
    shutil.copytree(ns_store.url, copy)
    del zarr.open_group(str(copy), mode="r+")["valid/cloud_fields"]
    with pytest.raises(StoreLayoutError, match="point clouds are incomplete in split 'valid'"):
        FieldStore.open(copy)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"viscosity": 0.5}, "viscosity must be one of"),
        ({"resolution": 48}, "resolution must be 16, 32, 64, 128 or 256"),
        ({"num_frames": 1}, "num_frames"),
        ({"num_train": 0}, "num_train >= 1"),
    ],
)
def test_bad_specs(changes: dict, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        NavierStokesSpec(**changes)


def test_burgers_refuses_cloud_flags(tmp_path: Path, capsys) -> None:
    argv = ["generate", "burgers", "--out", str(tmp_path / "b.zarr"), "--min-points", "10"]
    assert main(argv) == 2
    assert "are for ns2d point clouds" in capsys.readouterr().err
