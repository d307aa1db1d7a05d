"""Import a PDEBench 1D Burgers HDF5 file into a field store, a few trajectories at a time.

PDEBench's files hold `tensor` (trajectory, time, x), `x-coordinate` (x,) and `t-coordinate`
(time + 1,): the time axis lists one more entry than the tensor has frames, so the first
`time` entries are the frames' times.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from upt_data.errors import InputFileError, InvalidArgumentError
from upt_data.generate import EQUATION
from upt_data.store import SPLITS, FieldStore
from upt_data.writer import StoreWriter


def viscosity_from_name(path: Path) -> float | None:
    """PDEBench names files like 1D_Burgers_Sols_Nu0.01.hdf5."""
    match = re.search(r"Nu([0-9.eE+-]+?)\.h(df)?5$", path.name)
    return float(match.group(1)) if match else None


def import_pdebench(
    path: str | Path,
    url: str,
    *,
    viscosity: float | None = None,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.1,
    chunk_trajectories: int = 64,
    progress: bool = True,
) -> FieldStore:
    """Convert `path` into a new store at `url`; memory use is bounded by one chunk."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path} does not exist")
    if not (
        0 <= valid_fraction < 1 and 0 <= test_fraction < 1 and valid_fraction + test_fraction < 1
    ):
        raise InvalidArgumentError(
            f"valid and test fractions must be in [0, 1) and sum below 1; found "
            f"{valid_fraction} and {test_fraction}"
        )
    viscosity = viscosity if viscosity is not None else viscosity_from_name(path)
    if viscosity is None:
        raise InvalidArgumentError(f"cannot read nu from the name {path.name}; pass --viscosity")
    if not (math.isfinite(viscosity) and viscosity > 0):
        raise InvalidArgumentError(f"viscosity must be a positive number, found {viscosity}")
    try:
        source = h5py.File(path, "r")
    except OSError as error:
        raise InputFileError(f"{path} is not a readable HDF5 file: {error}") from error
    with source:
        missing = [k for k in ("tensor", "x-coordinate", "t-coordinate") if k not in source]
        if missing:
            raise InputFileError(f"{path} lacks PDEBench's datasets {missing}")
        tensor, x, t = source["tensor"], source["x-coordinate"][...], source["t-coordinate"][...]
        if tensor.ndim != 3 or tensor.shape[2] != len(x) or len(t) < tensor.shape[1]:
            raise InputFileError(
                f"{path}: expected tensor (trajectory, time, x) with x of length {len(x)} and "
                f"at least {tensor.shape[1]} times; found tensor {tensor.shape}, "
                f"t-coordinate {t.shape}"
            )
        if not np.issubdtype(tensor.dtype, np.floating):
            raise InputFileError(
                f"{path}: tensor holds {tensor.dtype} values; PDEBench Burgers fields are real "
                "floating-point numbers"
            )
        count = tensor.shape[0]
        if count == 0:
            raise InputFileError(f"{path} holds no trajectories")
        num_valid, num_test = int(count * valid_fraction), int(count * test_fraction)
        sizes = dict(zip(SPLITS, (count - num_valid - num_test, num_valid, num_test), strict=True))
        attrs = {
            "equation": EQUATION,
            "viscosity": viscosity,
            "initial_conditions": "pdebench",
            "generator": f"PDEBench file {path.name}",
            "generator_version": "pdebench",
            "seed": None,
            "values": "as stored by PDEBench",
            "periodic": True,
            "translation_invariant": True,
        }
        bounds = np.cumsum([0, *sizes.values()])
        with (
            StoreWriter(url, x[:, None], t[: tensor.shape[1]], sizes, 1, attrs) as writer,
            tqdm(total=count, unit="traj", desc=f"import {path.name}", disable=not progress) as bar,
        ):
            for split, first, last in zip(SPLITS, bounds[:-1], bounds[1:], strict=True):
                for start in range(first, last, chunk_trajectories):
                    stop = min(start + chunk_trajectories, last)
                    block = tensor[start:stop][..., None]
                    if not np.isfinite(block).all():
                        raise InputFileError(
                            f"{path}: trajectories {start}..{stop - 1} hold NaN or Inf"
                        )
                    writer.write(split, start - first, block)
                    bar.update(stop - start)
    return FieldStore.open(url)
