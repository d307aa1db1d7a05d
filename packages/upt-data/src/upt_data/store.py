"""Field stores: zarr v3 groups holding train/valid/test trajectories of a field.

Layout (validated on open):

    /                 attrs: layout_version, equation, viscosity, initial_conditions, generator,
                             generator_version, seed, normalization {mean, std} (train split),
                             complete = true (written last); optional: periodic (coords live
                             in [0, 1)^d with opposite faces identified), translation_invariant
                             (the equation has no preferred position); both false when absent
    /coords           (point, coord_dim) float64: the grid's points (cell centres for Burgers,
                      grid nodes j / N for Navier-Stokes)
    /times            (time,) float64
    /{split}/fields   (trajectory, time, point, channel) float32, one chunk per trajectory

Optional, in every split or none: one irregular point cloud per trajectory, fixed over time,
stored without padding as the points of all clouds one after another:

    /{split}/cloud_offsets  (trajectory + 1,) int64: cloud i is points offsets[i] .. offsets[i+1]
    /{split}/cloud_coords   (point, coord_dim) float32, chunks of 8192 points
    /{split}/cloud_fields   (point, time, channel) float32, the field at those points (exact)

Stores open read-only from any fsspec URL (a local path, `memory://...`, `s3://...`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import zarr
import zarr.storage
from zarr.errors import GroupNotFoundError

from upt_data.errors import (
    DamagedStoreError,
    IndexOutOfRangeError,
    InvalidArgumentError,
    NonFiniteDataError,
    NotAStoreError,
    StoreLayoutError,
    StoreNotFoundError,
)

LAYOUT_VERSION = 1
SPLITS = ("train", "valid", "test")
CLOUD_ARRAYS = ("cloud_offsets", "cloud_coords", "cloud_fields")
REQUIRED_ATTRS = (
    "layout_version",
    "equation",
    "viscosity",
    "initial_conditions",
    "generator",
    "generator_version",
    "seed",
    "normalization",
    "complete",
)


def is_local(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


def local_path(url: str) -> Path:
    return Path(url.removeprefix("file://"))


def _filesystem(url: str) -> tuple[Any, str]:
    """fsspec's filesystem and path for a URL; an unknown or uninstalled protocol is an
    InvalidArgumentError naming it."""
    try:
        return fsspec.core.url_to_fs(url)
    except (ValueError, ImportError) as error:
        protocol = url.split("://", 1)[0]
        raise InvalidArgumentError(
            f"{url}: cannot open the protocol {protocol!r} ({error}); use a local path, "
            "memory://, or install the fsspec backend for it"
        ) from error


def zarr_store(url: str, read_only: bool) -> zarr.storage.StoreLike:
    """A zarr store for a local path or any fsspec URL."""
    if is_local(url):
        return zarr.storage.LocalStore(local_path(url), read_only=read_only)
    _filesystem(url)
    return zarr.storage.FsspecStore.from_url(url, read_only=read_only)


def store_exists(url: str) -> bool:
    """Whether something is already at `url` (a complete store or not)."""
    if is_local(url):
        return local_path(url).exists()
    filesystem, path = _filesystem(url)
    return bool(filesystem.exists(path))


@dataclass(frozen=True)
class Normalization:
    """Per-channel mean and standard deviation of the train split."""

    mean: np.ndarray
    std: np.ndarray

    def normalize(self, fields: np.ndarray) -> np.ndarray:
        return (fields - self.mean) / self.std

    def denormalize(self, fields: np.ndarray) -> np.ndarray:
        return fields * self.std + self.mean


class FieldStore:
    """A validated, read-only field store. Open with `FieldStore.open(url)`."""

    def __init__(self, url: str, group: zarr.Group) -> None:
        self.url = url
        self._group = group
        self.attrs: dict[str, Any] = dict(group.attrs)
        self.coords: np.ndarray = group["coords"][...]
        self.times: np.ndarray = group["times"][...]
        stats = self.attrs["normalization"]
        self.normalization = Normalization(
            np.asarray(stats["mean"], dtype=np.float32), np.asarray(stats["std"], dtype=np.float32)
        )
        self.trajectory = functools.lru_cache(maxsize=64)(self._trajectory)
        self._cloud_offsets: dict[str, np.ndarray] = {}
        self.cloud = functools.lru_cache(maxsize=64)(self._cloud)

    @classmethod
    def open(cls, url: str | Path) -> FieldStore:
        """Open and validate; raises a specific UptDataError when something is off."""
        url = str(url)
        if is_local(url) and not local_path(url).exists():
            raise StoreNotFoundError(f"no field store at {url}: the path does not exist")
        source = zarr_store(url, read_only=True)
        try:
            group = zarr.open_group(source, mode="r")
        except (GroupNotFoundError, FileNotFoundError) as error:
            if not is_local(url):
                raise StoreNotFoundError(f"no field store at {url}") from error
            raise NotAStoreError(
                f"{url} is not a zarr v3 group (no zarr.json); is it a field store?"
            ) from error
        except (ValueError, KeyError, TypeError) as error:
            raise NotAStoreError(f"{url} is not a readable zarr v3 group: {error}") from error
        validate_layout(url, group)
        return cls(url, group)

    def num_trajectories(self, split: str) -> int:
        return self.fields(split).shape[0]

    @property
    def has_clouds(self) -> bool:
        """Whether every trajectory also comes as an irregular point cloud."""
        return f"train/{CLOUD_ARRAYS[0]}" in self._group

    def _cloud(self, split: str, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Trajectory `index`'s point cloud: coords (n, coord_dim) and physical fields
        (time, n, channel), float32. NaN or Inf raise, as do unreadable chunks. `cloud` is this
        with a cache."""
        if not self.has_clouds:
            raise StoreLayoutError(f"{self.url} holds no point clouds")
        count = self.num_trajectories(split)
        if not 0 <= index < count:
            raise IndexOutOfRangeError(f"cloud {index} out of range for split {split!r} of {count}")
        start, stop = (int(v) for v in self.cloud_offsets(split)[index : index + 2])
        try:
            coords = self._group[f"{split}/cloud_coords"][start:stop]
            fields = self._group[f"{split}/cloud_fields"][start:stop]
        except Exception as error:  # codecs raise many types for damaged bytes
            raise DamagedStoreError(
                f"{self.url}: cloud {index} of split {split!r} cannot be read "
                f"({type(error).__name__}: {error}); the store is damaged: regenerate it"
            ) from error
        if not (np.isfinite(coords).all() and np.isfinite(fields).all()):
            raise NonFiniteDataError(
                f"{self.url}: cloud {index} of split {split!r} holds NaN or Inf (a missing chunk "
                "reads as NaN); `upt-data info --check` reads the whole store"
            )
        return coords, np.ascontiguousarray(fields.transpose(1, 0, 2))

    def cloud_offsets(self, split: str) -> np.ndarray:
        """Where each trajectory's cloud starts in the split's points: (trajectory + 1,)."""
        if split not in self._cloud_offsets:
            self._cloud_offsets[split] = self._group[f"{split}/cloud_offsets"][...]
        return self._cloud_offsets[split]

    @property
    def num_channels(self) -> int:
        return self.fields("train").shape[3]

    @property
    def viscosity(self) -> float:
        return float(self.attrs["viscosity"])

    @property
    def periodic(self) -> bool:
        """Whether the domain is [0, 1)^d with opposite faces identified."""
        return self.attrs.get("periodic") is True

    @property
    def translation_invariant(self) -> bool:
        """Whether the equation looks the same from every point of a periodic domain."""
        return self.periodic and self.attrs.get("translation_invariant") is True

    def fields(self, split: str) -> zarr.Array:
        """The (trajectory, time, point, channel) array of a split."""
        if split not in SPLITS:
            raise IndexOutOfRangeError(f"split must be one of {SPLITS}; got {split!r}")
        return self._group[f"{split}/fields"]

    def read_trajectories(self, split: str, indices: Sequence[int] | slice) -> np.ndarray:
        """Physical-unit fields (k, time, point, channel) float32; NaN or Inf raise."""
        array = self.fields(split)
        count = array.shape[0]
        if isinstance(indices, slice):
            indices = range(*indices.indices(count))
        bad = [i for i in indices if not 0 <= i < count]
        if bad:
            raise IndexOutOfRangeError(
                f"trajectories {bad} out of range for split {split!r} with {count} trajectories"
            )
        data = (
            np.stack([self._read(split, array, i) for i in indices]) if len(indices) else array[:0]
        )
        if not np.isfinite(data).all():
            bad = [
                i for i, values in zip(indices, data, strict=True) if not np.isfinite(values).all()
            ]
            raise NonFiniteDataError(
                f"{self.url}: split {split!r} holds NaN or Inf in trajectories {bad} (a missing "
                "chunk reads as NaN); `upt-data info --check` reads the whole store"
            )
        return data

    def _read(self, split: str, array: zarr.Array, index: int) -> np.ndarray:
        try:
            return array[index]
        except Exception as error:  # codecs raise many types for damaged bytes; all mean the same
            raise DamagedStoreError(
                f"{self.url}: trajectory {index} of split {split!r} cannot be read "
                f"({type(error).__name__}: {error}); the store is damaged: regenerate it"
            ) from error

    def check(self) -> int:
        """Read every trajectory of every split; return how many. Raises DamagedStoreError or
        NonFiniteDataError at the first unreadable or non-finite one."""
        count = 0
        for split in SPLITS:
            for index in range(self.num_trajectories(split)):
                self.read_trajectories(split, [index])
                if self.has_clouds:
                    self.cloud(split, index)
                count += 1
        return count

    def _trajectory(self, split: str, index: int) -> np.ndarray:
        """One trajectory (time, point, channel); `trajectory` is this with a cache."""
        return self.read_trajectories(split, [index])[0]


def validate_layout(url: str, group: zarr.Group) -> None:
    """Check attributes, arrays, shapes and dtypes; raise StoreLayoutError naming the problem."""
    attrs = dict(group.attrs)
    missing = [key for key in REQUIRED_ATTRS if key not in attrs]
    if missing:
        raise StoreLayoutError(
            f"{url}: attributes {missing} are missing; not a complete field store"
        )
    if attrs["complete"] is not True:
        raise StoreLayoutError(f"{url}: the store was not completely written (complete != true)")
    if attrs["layout_version"] != LAYOUT_VERSION:
        raise StoreLayoutError(
            f"{url}: layout version {attrs['layout_version']}; this upt-data reads {LAYOUT_VERSION}"
        )
    names = {"coords", "times", *(f"{s}/fields" for s in SPLITS)}
    arrays = {}
    for name in sorted(names):
        try:
            arrays[name] = group[name]
        except KeyError as error:
            raise StoreLayoutError(f"{url}: array {name!r} is missing") from error
        if not isinstance(arrays[name], zarr.Array):
            raise StoreLayoutError(f"{url}: {name!r} must be an array, found a group")
    coords, times = arrays["coords"], arrays["times"]
    if coords.ndim != 2 or times.ndim != 1:
        raise StoreLayoutError(
            f"{url}: expected coords (point, coord_dim) and times (time,); found shapes "
            f"{coords.shape} and {times.shape}"
        )
    expected = (times.shape[0], coords.shape[0])
    for split in SPLITS:
        fields = arrays[f"{split}/fields"]
        if fields.ndim != 4 or fields.shape[1:3] != expected:
            raise StoreLayoutError(
                f"{url}: {split}/fields must have shape (trajectory, {expected[0]}, {expected[1]}, "
                f"channel) to match times and coords; found {fields.shape}"
            )
        if fields.dtype not in (np.float32, np.float64):
            raise StoreLayoutError(
                f"{url}: {split}/fields must be float32 or float64, found {fields.dtype}"
            )
    _validate_clouds(url, group, times.shape[0], coords.shape[1])
    channels = arrays["train/fields"].shape[3]
    stats = attrs["normalization"]
    if not (
        isinstance(stats, dict)
        and all(len(stats.get(k, [])) == channels for k in ("mean", "std"))
        and all(math.isfinite(v) for v in [*stats["mean"], *stats["std"]])
        and all(v > 0 for v in stats["std"])
    ):
        raise StoreLayoutError(
            f"{url}: normalization must hold finite mean and positive std lists of length "
            f"{channels}; found {stats}"
        )


def _validate_clouds(url: str, group: zarr.Group, num_times: int, coord_dim: int) -> None:
    """The optional point clouds: in every split or none, with consistent shapes and offsets."""
    present = {split: [f"{split}/{name}" in group for name in CLOUD_ARRAYS] for split in SPLITS}
    if not any(any(flags) for flags in present.values()):
        return
    for split, flags in present.items():
        if not all(flags):
            raise StoreLayoutError(f"{url}: point clouds are incomplete in split {split!r}")
        offsets = group[f"{split}/cloud_offsets"][...]
        count = group[f"{split}/fields"].shape[0]
        coords, fields = group[f"{split}/cloud_coords"], group[f"{split}/cloud_fields"]
        total = int(offsets[-1]) if len(offsets) else -1
        if (
            offsets.shape != (count + 1,)
            or offsets[0] != 0
            or (np.diff(offsets) < 1).any()
            or coords.shape != (total, coord_dim)
            or fields.shape[:2] != (total, num_times)
        ):
            raise StoreLayoutError(
                f"{url}: split {split!r} clouds must have offsets ({count + 1},) rising from 0, "
                f"coords (points, {coord_dim}) and fields (points, {num_times}, channel); found "
                f"{offsets.shape}, {coords.shape}, {fields.shape}"
            )
