"""The upt-data command: generate, info, import; errors on one line with exit code 2."""

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from upt_data import FieldStore, InputFileError, import_pdebench
from upt_data.cli import main


def write_pdebench_file(
    path: Path, trajectories: int = 10, frames: int = 5, points: int = 16
) -> np.ndarray:
    tensor = (
        np.random.default_rng(0).standard_normal((trajectories, frames, points)).astype(np.float32)
    )
    with h5py.File(path, "w") as file:
        file["tensor"] = tensor
        file["x-coordinate"] = (np.arange(points) + 0.5) / points
        file["t-coordinate"] = np.linspace(0, 2, frames + 1)
    return tensor


def test_generate_then_info(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "cli.zarr"
    arguments = ["--resolution", "16", "--num-train", "2", "--num-valid", "1", "--num-test", "1"]
    assert main(["generate", "burgers", "--out", str(out), "--viscosity", "0.1", *arguments]) == 0
    assert FieldStore.open(out).fields("train").shape == (2, 201, 16, 1)
    assert main(["info", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "train      fields (2, 201, 16, 1)" in printed
    assert "normalization" in printed
    assert "viscosity  0.1" in printed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["info", "/nonexistent/store.zarr"], "no field store at /nonexistent/store.zarr"),
        (["generate", "burgers", "--out", "x.zarr", "--resolution", "100"], "power of two"),
        (["generate", "burgers", "--out", "x.zarr", "--viscosity", "9"], "viscosity must lie"),
        (["import", "pdebench", "missing.hdf5", "--out", "y.zarr"], "missing.hdf5 does not exist"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(
    argv: list[str], message: str, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "upt_data", *argv], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("upt-data: error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_pdebench_import_round_trip(tmp_path: Path) -> None:
    source = tmp_path / "1D_Burgers_Sols_Nu0.02.hdf5"
    tensor = write_pdebench_file(source)
    store = import_pdebench(
        source, str(tmp_path / "imported.zarr"), chunk_trajectories=3, progress=False
    )
    assert store.viscosity == 0.02
    sizes = [store.num_trajectories(s) for s in ("train", "valid", "test")]
    assert sizes == [8, 1, 1]
    stored = np.concatenate(
        [store.read_trajectories(s, slice(None)) for s in ("train", "valid", "test")]
    )
    np.testing.assert_array_equal(stored[..., 0], tensor)
    np.testing.assert_allclose(store.times, np.linspace(0, 2, 6)[:5])
    np.testing.assert_allclose(store.normalization.mean, [tensor[:8].mean()], rtol=1e-5)
    np.testing.assert_allclose(store.normalization.std, [tensor[:8].std()], rtol=1e-5)


def test_pdebench_bad_files(tmp_path: Path) -> None:
    not_hdf5 = tmp_path / "1D_Burgers_Sols_Nu0.1.hdf5"
    not_hdf5.write_text("hello")
    with pytest.raises(InputFileError, match="not a readable HDF5 file"):
        import_pdebench(not_hdf5, str(tmp_path / "a.zarr"), progress=False)
    incomplete = tmp_path / "1D_Burgers_Sols_Nu0.2.hdf5"
    with h5py.File(incomplete, "w") as file:
        file["tensor"] = np.zeros((2, 3, 4))
    with pytest.raises(InputFileError, match=r"lacks PDEBench's datasets \['x-coordinate'"):
        import_pdebench(incomplete, str(tmp_path / "b.zarr"), progress=False)
    nan_file = tmp_path / "1D_Burgers_Sols_Nu0.3.hdf5"
    write_pdebench_file(nan_file)
    with h5py.File(nan_file, "r+") as file:
        file["tensor"][9, 0, 0] = np.nan
    with pytest.raises(InputFileError, match="hold NaN or Inf"):
        import_pdebench(nan_file, str(tmp_path / "c.zarr"), progress=False)
    assert not (tmp_path / "c.zarr").exists()
