"""Torch datasets over a field store: next-step pairs for training, whole trajectories for rollouts.

Both are safe under DataLoader workers: each process opens the store itself on first use.
Random point subsets come from a generator seeded by (seed, epoch, index), so a sample does not
depend on which worker draws it, and `set_epoch` gives every epoch fresh subsets.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from upt_data.errors import IndexOutOfRangeError, InvalidArgumentError
from upt_data.store import SPLITS, FieldStore


class _StoreDataset(Dataset):
    """Opens the store lazily, once per process."""

    def __init__(self, store: FieldStore | str | Path, split: str, normalize: bool) -> None:
        if split not in SPLITS:
            raise InvalidArgumentError(f"split must be one of {SPLITS}, found {split!r}")
        opened = store if isinstance(store, FieldStore) else FieldStore.open(store)
        self.url, self.split, self.normalize = opened.url, split, normalize
        self._store: FieldStore | None = opened
        self._pid = os.getpid()

    @property
    def store(self) -> FieldStore:
        if self._store is None or self._pid != os.getpid():
            self._store, self._pid = FieldStore.open(self.url), os.getpid()
        return self._store

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_store": None}

    def _frames(self, trajectory: int) -> Tensor:
        """(time, point, channel) float32, normalized if asked."""
        fields = self.store.trajectory(self.split, trajectory)
        if self.normalize:
            fields = self.store.normalization.normalize(fields)
        return torch.from_numpy(fields)

    def _meta(self, trajectory: int) -> dict[str, Any]:
        return {
            "trajectory": trajectory,
            "viscosity": self.store.viscosity,
            "grid_shape": tuple(self.store.coords.shape[:1]),
        }


def _subset(count: int, size: int | None, generator: torch.Generator) -> Tensor:
    """`size` distinct indices out of `count`, in increasing order (all of them for None)."""
    if size is None or size >= count:
        return torch.arange(count)
    return torch.randperm(count, generator=generator)[:size].sort().values


class NextStepDataset(_StoreDataset):
    """Samples (frame t at input points -> frames t + stride, ..., t + num_steps * stride at
    query points).

    Each item holds `fields_orig` (n, C) at `coords` (n, d), `query_coords` (q, d) and `target`
    (num_steps, q, C), and `meta` (trajectory, time_index, time, dt, viscosity, grid_shape).
    `grid_stride` keeps every k-th stored point (a coarser grid); `input_points` and
    `query_points` draw random subsets of those points (to imitate irregular meshes); None keeps
    all of them. `clouds` takes each trajectory's point cloud instead of the grid (stores with
    clouds; input and query subsets are then drawn from the cloud, whose size sets the bound).
    `random_shift` moves each sample's points by one random offset, wrapped into
    [0, 1)^d: for stores of a translation-invariant equation on a periodic domain (Burgers), the
    same physics seen from anywhere, so that a model meets every position relative to its own
    grid. `store` is a
    URL or an open FieldStore.
    """

    def __init__(
        self,
        store: FieldStore | str | Path,
        split: str = "train",
        *,
        stride: int = 1,
        num_steps: int = 1,
        grid_stride: int = 1,
        input_points: int | None = None,
        query_points: int | None = None,
        normalize: bool = True,
        random_shift: bool = False,
        clouds: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(store, split, normalize)
        if clouds and (not self.store.has_clouds or grid_stride != 1):
            raise InvalidArgumentError(
                f"clouds=True needs a store with point clouds and grid_stride 1; {self.url} "
                f"{'has' if self.store.has_clouds else 'has no'} clouds, grid_stride={grid_stride}"
            )
        self.clouds = clouds
        if random_shift and not self.store.translation_invariant:
            raise InvalidArgumentError(
                f"random_shift needs a translation-invariant equation on a periodic domain; "
                f"{self.url} is not marked so (attributes periodic, translation_invariant)"
            )
        self.random_shift = random_shift
        num_times, num_stored = len(self.store.times), len(self.store.coords)
        if not 1 <= stride < num_times:
            raise InvalidArgumentError(f"stride must lie in [1, {num_times - 1}], found {stride}")
        if num_steps < 1 or num_steps * stride >= num_times:
            raise InvalidArgumentError(
                f"num_steps * stride must lie in [1, {num_times - 1}] for {num_times} stored "
                f"frames, found num_steps={num_steps}, stride={stride}"
            )
        if grid_stride < 1 or num_stored % grid_stride:
            raise InvalidArgumentError(
                f"grid_stride must be >= 1 and divide the {num_stored} stored points, "
                f"found {grid_stride}"
            )
        self.grid = torch.arange(0, num_stored, grid_stride)
        num_points = len(self.grid)
        if clouds:
            num_points = int(np.diff(self.store.cloud_offsets(split)).min(initial=num_stored))
        for name, value in (("input_points", input_points), ("query_points", query_points)):
            if value is not None and not 1 <= value <= num_points:
                raise InvalidArgumentError(
                    f"{name} must be None or lie in [1, {num_points}], found {value}"
                )
        self.stride, self.input_points, self.query_points = stride, input_points, query_points
        self.num_steps, self.seed, self.epoch = num_steps, seed, 0
        self.pairs_per_trajectory = num_times - num_steps * stride
        self.num_trajectories = self.store.num_trajectories(split)

    def set_epoch(self, epoch: int) -> None:
        """Draw new point subsets in the next epoch (call before creating its iterator)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_trajectories * self.pairs_per_trajectory

    def __getitem__(self, index: int) -> dict[str, Any]:
        generator = torch.Generator().manual_seed(
            hash((self.seed, self.epoch, int(index))) & 0x7FFF_FFFF_FFFF_FFFF
        )
        return self.sample(index, generator)

    def sample(self, index: int, generator: torch.Generator) -> dict[str, Any]:
        """Item `index` with point subsets drawn from `generator`."""
        if not 0 <= index < len(self):
            raise IndexOutOfRangeError(f"index {index} out of range for {len(self)} samples")
        trajectory, time_index = divmod(int(index), self.pairs_per_trajectory)
        if self.clouds:
            cloud_coords, cloud_fields = self.store.cloud(self.split, trajectory)
            if self.normalize:
                cloud_fields = self.store.normalization.normalize(cloud_fields)
            frames, coords = torch.from_numpy(cloud_fields), torch.from_numpy(cloud_coords)
        else:
            frames = self._frames(trajectory)[:, self.grid]
            coords = torch.from_numpy(self.store.coords).float()[self.grid]
        inputs = _subset(len(coords), self.input_points, generator)
        queries = _subset(len(coords), self.query_points, generator)
        if self.random_shift:
            shift = torch.rand(coords.shape[1], generator=generator)
            coords = (coords + shift).remainder(1.0)
        times = self.store.times
        future = time_index + self.stride * torch.arange(1, self.num_steps + 1)
        return {
            "fields_orig": frames[time_index, inputs],
            "coords": coords[inputs],
            "query_coords": coords[queries],
            "target": frames[future][:, queries],
            "meta": {
                **self._meta(trajectory),
                "time_index": time_index,
                "time": float(times[time_index]),
                "dt": float(times[time_index + self.stride] - times[time_index]),
            },
        }


class TrajectoryDataset(_StoreDataset):
    """Whole trajectories: `fields` (time, point, channel), `coords`, `times`, `meta`."""

    def __init__(
        self, store: FieldStore | str | Path, split: str = "test", *, normalize: bool = True
    ) -> None:
        super().__init__(store, split, normalize)

    def __len__(self) -> int:
        return self.store.num_trajectories(self.split)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexOutOfRangeError(f"trajectory {index} out of range for {len(self)}")
        return {
            "fields": self._frames(int(index)),
            "coords": torch.from_numpy(self.store.coords).float(),
            "times": torch.from_numpy(self.store.times).float(),
            "meta": self._meta(int(index)),
        }
