"""From a field store to what training and evaluation consume: batches and whole trajectories."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader

from upt_data import (
    BurgersSpec,
    CloudSpec,
    FieldStore,
    NavierStokesSpec,
    NextStepDataset,
    Normalization,
    UptDataError,
    generate_burgers_store,
    generate_ns2d_store,
)
from upt_data.store import store_exists
from upt_train.batches import Batch, BatchSchedule, ScheduledBatches, SeededSamples, collate
from upt_train.config import ConfigError, DataConfig, RunConfig
from upt_train.trajectories import Trajectories, load_trajectories


def data_spec(config: DataConfig) -> BurgersSpec | NavierStokesSpec:
    """What the store named by `config` holds, as its generator takes it."""
    counts = {
        "num_train": config.num_train,
        "num_valid": config.num_valid,
        "num_test": config.num_test,
        "seed": config.seed,
    }
    try:
        if config.equation == "ns2d":
            clouds = CloudSpec(min_points=config.min_points, max_points=config.max_points)
            return NavierStokesSpec(
                viscosity=config.viscosity,
                resolution=config.resolution,
                num_frames=config.num_frames,
                frame_interval=config.final_time / (config.num_frames - 1),
                clouds=clouds,
                **counts,
            )
        return BurgersSpec(
            viscosity=config.viscosity,
            resolution=config.resolution,
            num_frames=config.num_frames,
            final_time=config.final_time,
            **counts,
        )
    except UptDataError as error:
        raise ConfigError(f"data: {error}") from error


def check_store(store: FieldStore, config: DataConfig) -> None:
    """Refuse a store that holds other data than the config describes. A store that upt-data
    generated must match every key of the data spec; an imported one its viscosity, resolution
    and number of frames."""
    points = config.resolution ** store.coords.shape[1]
    found = {
        "resolution": config.resolution if len(store.coords) == points else len(store.coords),
        "viscosity": store.viscosity,
        "num_frames": len(store.times),
        "final_time": float(store.times[-1]),
    }
    spec = store.attrs.get("spec")
    if isinstance(spec, dict):
        found |= {key: spec.get(key) for key in ("num_train", "num_valid", "num_test", "seed")}
        clouds = spec.get("clouds")
        if isinstance(clouds, dict):
            found |= {key: clouds.get(key) for key in ("min_points", "max_points")}
    for key, value in found.items():
        wanted = getattr(config, key)
        close = isinstance(value, float) and math.isclose(value, wanted, rel_tol=1e-9)
        if not (close or value == wanted):
            raise ConfigError(
                f"data.{key} is {wanted!r} but the store at {config.store} holds {value!r}; "
                "set data.store to another path (it is generated there) or fix the config"
            )
    if config.points == "cloud" and not store.has_clouds:
        raise ConfigError(f"data.points is 'cloud' but {config.store} holds no point clouds")


def ensure_store(config: DataConfig, progress: bool) -> FieldStore:
    """Open the configured store (checking that it holds what the config says), generating it
    first when nothing is at its path yet."""
    if store_exists(config.store):
        store = FieldStore.open(config.store)
        check_store(store, config)
        return store
    spec = data_spec(config)
    if progress:
        print(f"generating {config.store} ({config.equation}, nu={config.viscosity}): once")
    if isinstance(spec, NavierStokesSpec):
        return generate_ns2d_store(config.store, spec, progress=progress)
    return generate_burgers_store(config.store, spec, progress=progress)


class TrainingData:
    """One rank's training batches from an open store, through a DataLoader."""

    def __init__(
        self, config: RunConfig, store: FieldStore, rank: int = 0, world_size: int = 1
    ) -> None:
        data = config.data
        check_store(store, data)
        for resolution in config.eval.super_resolution if data.points == "grid" else ():
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
                clouds=data.points == "cloud",
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
        if len(self.dataset) == 0:
            raise ConfigError(f"{store.url}: the train split holds no training samples")
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
        return trajectories_for(self.config, self.store, split, self.store.normalization, device)


def trajectories_for(
    config: RunConfig,
    store: FieldStore,
    split: str,
    normalization: Normalization,
    device: torch.device,
) -> Trajectories:
    """`split` of `store` as `config` trains on it: its time stride, training points (grid or
    clouds) and evaluation resolutions."""
    data = config.data
    return load_trajectories(
        store,
        split,
        stride=data.stride,
        train_resolution=data.train_resolution,
        normalization=normalization,
        device=device,
        points=data.points,
        resolutions=config.eval.super_resolution,
    )
