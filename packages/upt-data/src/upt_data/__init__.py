"""Burgers data, zarr field stores and torch datasets for UPT."""

from upt_data.burgers import solve_burgers
from upt_data.dataset import NextStepDataset, TrajectoryDataset
from upt_data.errors import (
    DamagedStoreError,
    IndexOutOfRangeError,
    InputFileError,
    InvalidArgumentError,
    NonFiniteDataError,
    NotAStoreError,
    StoreExistsError,
    StoreLayoutError,
    StoreNotFoundError,
    UptDataError,
)
from upt_data.generate import BurgersSpec, generate_burgers_store
from upt_data.generate_ns2d import NavierStokesSpec, generate_ns2d_store
from upt_data.initial_conditions import PDEBenchSineFamily
from upt_data.navier_stokes import solve_navier_stokes
from upt_data.pdebench import import_pdebench
from upt_data.point_clouds import CloudSpec, sample_cloud
from upt_data.store import FieldStore, Normalization

__all__ = [
    "BurgersSpec",
    "CloudSpec",
    "DamagedStoreError",
    "FieldStore",
    "IndexOutOfRangeError",
    "InputFileError",
    "InvalidArgumentError",
    "NavierStokesSpec",
    "NextStepDataset",
    "NonFiniteDataError",
    "Normalization",
    "NotAStoreError",
    "PDEBenchSineFamily",
    "StoreExistsError",
    "StoreLayoutError",
    "StoreNotFoundError",
    "TrajectoryDataset",
    "UptDataError",
    "generate_burgers_store",
    "generate_ns2d_store",
    "import_pdebench",
    "sample_cloud",
    "solve_burgers",
    "solve_navier_stokes",
]
