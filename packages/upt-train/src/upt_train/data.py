"""From a field store to what training and evaluation consume: batches and whole trajectories."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from upt_data import (
    BurgersSpec,
    FieldStore,
    NextStepDataset,
    Normalization,
    TrajectoryDataset,
    UptDataError,
    generate_burgers_store,
)
from upt_data.store import store_exists
from upt_train.batches import (
    Batch,
    BatchSchedule,
    ScheduledBatches,
    SeededSamples,
    collate,
    conditioning,
)
from upt_train.config import ConfigError, DataConfig, RunConfig


def data_spec(config: DataConfig) -> BurgersSpec:
    """What the store named by `config` holds, as the generator takes it."""
    return BurgersSpec(
        viscosity=config.viscosity,
        resolution=config.resolution,
        num_frames=config.num_frames,
        final_time=config.final_time,
        num_train=config.num_train,
        num_valid=config.num_valid,
        num_test=config.num_test,
        seed=config.seed,
    )


def check_store(store: FieldStore, config: DataConfig) -> None:
    """Refuse a store that holds other data than the config describes. A store that upt-data
    generated must match every key of the data spec; an imported one its viscosity, resolution
    and number of frames."""
    found = {
        "resolution": len(store.coords),
        "viscosity": store.viscosity,
        "num_frames": len(store.times),
    }
    spec = store.attrs.get("spec")
    if isinstance(spec, dict):
        found |= {key: spec.get(key) for key in ("final_time", "num_train", "num_valid")}
        found |= {key: spec.get(key) for key in ("num_test", "seed")}
    for key, value in found.items():
        wanted = getattr(config, key)
        same = math.isclose(value, wanted, rel_tol=1e-9) if key == "viscosity" else value == wanted
        if not same:
            raise ConfigError(
                f"data.{key} is {wanted!r} but the store at {config.store} holds {value!r}; "
                "set data.store to another path (it is generated there) or fix the config"
            )


def ensure_store(config: DataConfig, progress: bool) -> FieldStore:
    """Open the configured store (checking that it holds what the config says), generating it
    first when nothing is at its path yet."""
    if store_exists(config.store):
        store = FieldStore.open(config.store)
        check_store(store, config)
        return store
    if progress:
        print(f"generating {config.store} (Burgers, nu={config.viscosity}): once per config")
    return generate_burgers_store(config.store, data_spec(config), progress=progress)


@dataclass
class Trajectories:
    """Whole trajectories of one split, normalized as the model sees them.

    fields (B, T, N, C) on coords (N, d), T frames at the training time stride; `model_points`
    indexes the points the model trained on; times (T,); cond (B, S); `normalization` maps model
    units back to physical ones (the training store's statistics).
    """

    fields: Tensor
    coords: Tensor
    model_points: Tensor
    times: Tensor
    cond: Tensor
    normalization: Normalization

    def denormalize(self, values: Tensor) -> Tensor:
        mean, std = (
            torch.as_tensor(v, dtype=values.dtype, device=values.device)
            for v in (self.normalization.mean, self.normalization.std)
        )
        return values * std + mean


def model_grid_stride(store: FieldStore, train_resolution: int | None) -> int:
    """Every how many stored points make the training grid (`train_resolution` points)."""
    stored = len(store.coords)
    train = train_resolution or stored
    if stored % train:
        raise ConfigError(
            f"the run trained on {train} points, which does not divide the {stored} points of "
            f"{store.url}"
        )
    return stored // train


def load_trajectories(
    store: FieldStore,
    split: str,
    stride: int,
    train_resolution: int | None,
    normalization: Normalization,
    device: torch.device,
) -> Trajectories:
    """Every trajectory of `split` at time stride `stride`, normalized with `normalization`."""
    if store.num_trajectories(split) == 0:
        raise ConfigError(f"{store.url}: split {split!r} holds no trajectories to evaluate on")
    if stride >= len(store.times):
        raise ConfigError(
            f"{store.url} holds {len(store.times)} frames: too few for time stride {stride}"
        )
    dataset = TrajectoryDataset(store, split, normalize=False)
    physical = np.stack([dataset[i]["fields"][::stride].numpy() for i in range(len(dataset))])
    fields = torch.from_numpy(normalization.normalize(physical)).float()
    times = torch.from_numpy(store.times[::stride]).float()
    count = len(fields)
    cond = conditioning(
        torch.full((count,), float(times[1] - times[0])), torch.full((count,), store.viscosity)
    )
    grid_stride = model_grid_stride(store, train_resolution)
    return Trajectories(
        fields=fields.to(device),
        coords=torch.from_numpy(store.coords).float().to(device),
        model_points=torch.arange(0, len(store.coords), grid_stride),
        times=times,
        cond=cond.to(device),
        normalization=normalization,
    )


def super_resolution_points(
    store: FieldStore, resolutions: tuple[int, ...], train_resolution: int | None
) -> dict[str, Tensor]:
    """Point indices of each evaluation resolution other than the training one (those that
    divide the stored resolution)."""
    stored = len(store.coords)
    train = train_resolution or stored
    return {
        str(r): torch.arange(0, stored, stored // r)
        for r in resolutions
        if r != train and stored % r == 0
    }


class TrainingData:
    """One rank's training batches from an open store, through a DataLoader."""

    def __init__(
        self, config: RunConfig, store: FieldStore, rank: int = 0, world_size: int = 1
    ) -> None:
        data = config.data
        check_store(store, data)
        for resolution in config.eval.super_resolution:
            if len(store.coords) % resolution:
                raise ConfigError(
                    f"eval.super_resolution: {resolution} must divide the stored "
                    f"{len(store.coords)} points"
                )
        self.config, self.store, self.rank = config, store, rank
        try:
            self.dataset = NextStepDataset(
                store,
                "train",
                stride=data.stride,
                num_steps=config.training.unroll_steps,
                grid_stride=data.grid_stride,
                input_points=data.input_points,
                query_points=data.query_points,
                random_shift=data.random_shift,
            )
            self.schedule = BatchSchedule(
                num_samples=len(self.dataset),
                batch_size=config.training.batch_size,
                grad_accum_steps=config.training.grad_accum_steps,
                world_size=world_size,
                seed=config.training.seed,
            )
        except (ValueError, UptDataError) as error:
            raise ConfigError(f"data: {error}") from error
        self.coord_dim = store.coords.shape[1]
        self.num_channels = store.num_channels

    def batches(self, start: int, stop: int) -> Iterator[Batch]:
        """The micro-batches of optimizer steps [start, stop), in order."""
        sampler = ScheduledBatches(self.schedule, self.rank, start, stop, self.config.training.seed)
        workers = self.config.data.num_workers
        loader = DataLoader(
            SeededSamples(self.dataset),
            batch_sampler=sampler,
            num_workers=workers,
            collate_fn=collate,
            prefetch_factor=4 if workers else None,
        )
        return iter(loader)

    def trajectories(self, split: str, device: torch.device) -> Trajectories:
        """Whole trajectories of `split` at the training stride, in the store's normalization."""
        data = self.config.data
        return load_trajectories(
            self.store, split, data.stride, data.train_resolution, self.store.normalization, device
        )

    def super_resolution_points(self) -> dict[str, Tensor]:
        return super_resolution_points(
            self.store, self.config.eval.super_resolution, self.config.data.train_resolution
        )
