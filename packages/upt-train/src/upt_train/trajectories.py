"""Whole trajectories for evaluation: the points a forecaster sees, and the point sets it is
scored at (other resolutions, the full grid of a point-cloud store)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from upt_data import FieldStore, Normalization
from upt_data.navier_stokes import upsample
from upt_train.batches import conditioning
from upt_train.config import ConfigError


@dataclass
class PointSet:
    """Points where a forecast is read: coords (B, Q, d), the true values there (B, T, Q, C),
    normalized, and mask (B, Q) for padded point clouds (None: every point is real)."""

    coords: Tensor
    values: Tensor
    mask: Tensor | None = None

    def to(self, device: torch.device) -> PointSet:
        mask = None if self.mask is None else self.mask.to(device)
        return PointSet(self.coords.to(device), self.values.to(device), mask)

    def select(self, part: slice) -> PointSet:
        """The trajectories `part`."""
        mask = None if self.mask is None else self.mask[part]
        return PointSet(self.coords[part], self.values[part], mask)


@dataclass
class Trajectories:
    """Every trajectory of one split at the training time stride, normalized as the model sees
    them: `inputs`, the points a forecaster is given and scored at (the training grid, or each
    trajectory's point cloud); `resolutions`, further point sets it is scored at when it can
    answer anywhere, by label; times (T,); cond (B, S); the training store's normalization."""

    inputs: PointSet
    times: Tensor
    cond: Tensor
    normalization: Normalization
    resolutions: dict[str, PointSet] = field(default_factory=dict)

    def denormalize(self, values: Tensor) -> Tensor:
        mean, std = (
            torch.as_tensor(v, dtype=values.dtype, device=values.device)
            for v in (self.normalization.mean, self.normalization.std)
        )
        return values * std + mean

    def select(self, part: slice) -> Trajectories:
        """The trajectories `part`, with every point set."""
        return dataclasses.replace(
            self,
            inputs=self.inputs.select(part),
            cond=self.cond[part],
            resolutions={k: v.select(part) for k, v in self.resolutions.items()},
        )


def _grid_stride(store: FieldStore, train_resolution: int | None) -> int:
    stored = len(store.coords)
    train = train_resolution or stored
    if stored % train:
        raise ConfigError(
            f"the run trained on {train} points, which does not divide the {stored} points of "
            f"{store.url}"
        )
    return stored // train


def _on_grid(coords: np.ndarray, values: np.ndarray, count: int) -> PointSet:
    """A point set shared by every trajectory: coords (N, d), values (B, T, N, C)."""
    points = torch.from_numpy(coords).float()
    return PointSet(points.expand(count, -1, -1), torch.from_numpy(values).float())


def _line_sets(store: FieldStore, values: np.ndarray, train: int | None, resolutions) -> tuple:
    """1D grids: the training grid as inputs, every other resolution dividing the stored one."""
    stride = _grid_stride(store, train)
    count, stored = len(values), len(store.coords)
    inputs = _on_grid(store.coords[::stride], values[:, :, ::stride], count)
    others = {
        str(r): _on_grid(store.coords[:: stored // r], values[:, :, :: stored // r], count)
        for r in resolutions
        if stored % r == 0 and stored // r != stride
    }
    return inputs, others


def _cloud_sets(
    store: FieldStore, split: str, values: np.ndarray, stride: int, normalization, resolutions
) -> tuple:
    """Point-cloud stores: each trajectory's cloud as inputs; the stored square grid and finer
    ones (Fourier-upsampled: the stored field is band-limited, so this is its exact value) as
    further point sets, labelled SIDExSIDE."""
    clouds = [store.cloud(split, i) for i in range(store.num_trajectories(split))]
    coords = pad_sequence([torch.from_numpy(c) for c, _ in clouds], batch_first=True)
    cloud_values = pad_sequence(
        [
            torch.from_numpy(normalization.normalize(f[::stride])).permute(1, 0, 2)
            for _, f in clouds
        ],
        batch_first=True,
    ).permute(0, 2, 1, 3)
    sizes = torch.tensor([len(c) for c, _ in clouds])
    mask = torch.arange(coords.shape[1])[None] < sizes[:, None]
    inputs = PointSet(coords.float(), cloud_values.float(), mask)
    side = round(len(store.coords) ** 0.5)
    others = {f"{side}x{side}": _on_grid(store.coords, values, len(values))}
    for fine in resolutions:
        if fine <= side:
            continue
        squares = values.reshape(*values.shape[:2], side, side, values.shape[-1])
        upsampled = upsample(torch.from_numpy(squares).double().movedim(-1, 2), fine)
        fine_values = upsampled.movedim(2, -1).reshape(*values.shape[:2], -1, values.shape[-1])
        x = np.arange(fine) / fine
        nodes = np.stack(np.meshgrid(x, x, indexing="ij"), axis=-1).reshape(-1, 2)
        others[f"{fine}x{fine}"] = _on_grid(nodes, fine_values.float().numpy(), len(values))
    return inputs, others


def load_trajectories(
    store: FieldStore,
    split: str,
    *,
    stride: int,
    train_resolution: int | None,
    normalization: Normalization,
    device: torch.device,
    points: str = "grid",
    resolutions: tuple[int, ...] = (),
) -> Trajectories:
    """Every trajectory of `split` at time stride `stride`, normalized with `normalization`.

    `points="grid"`: inputs are the training grid (every stored point, or `train_resolution` of
    them), further sets the `resolutions` (points per axis) that divide the stored grid.
    `points="cloud"`: inputs are each trajectory's point cloud; further sets the stored grid and
    the finer `resolutions` (grid sides), Fourier-upsampled."""
    count = store.num_trajectories(split)
    if count == 0:
        raise ConfigError(f"{store.url}: split {split!r} holds no trajectories to evaluate on")
    if stride >= len(store.times):
        raise ConfigError(
            f"{store.url} holds {len(store.times)} frames: too few for time stride {stride}"
        )
    physical = store.read_trajectories(split, range(count))[:, ::stride]
    values = normalization.normalize(physical).astype(np.float32)
    if points == "cloud":
        if not store.has_clouds:
            raise ConfigError(f"{store.url} holds no point clouds (data.points is 'cloud')")
        inputs, others = _cloud_sets(store, split, values, stride, normalization, resolutions)
    else:
        inputs, others = _line_sets(store, values, train_resolution, resolutions)
    times = torch.from_numpy(store.times[::stride]).float()
    cond = conditioning(
        torch.full((count,), float(times[1] - times[0])), torch.full((count,), store.viscosity)
    )
    return Trajectories(
        inputs=inputs.to(device),
        times=times,
        cond=cond.to(device),
        normalization=normalization,
        resolutions={label: points.to(device) for label, points in others.items()},
    )
