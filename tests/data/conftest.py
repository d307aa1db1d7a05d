"""A small Burgers store shared by the data tests (generated once per session)."""

import shutil
from pathlib import Path

import pytest

from upt_data import BurgersSpec, FieldStore, generate_burgers_store

SMALL = BurgersSpec(
    viscosity=0.05,
    resolution=32,
    num_frames=11,
    final_time=0.5,
    num_train=4,
    num_valid=2,
    num_test=3,
    seed=7,
    solver_batch=3,
)


@pytest.fixture(scope="session")
def small_spec() -> BurgersSpec:
    return SMALL


@pytest.fixture(scope="session")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> FieldStore:
    path = tmp_path_factory.mktemp("stores") / "small.zarr"
    return generate_burgers_store(str(path), SMALL, progress=False)


@pytest.fixture
def store_copy(small_store: FieldStore, tmp_path: Path) -> Path:
    """A writable copy of the small store."""
    target = tmp_path / "copy.zarr"
    shutil.copytree(small_store.url, target)
    return target
