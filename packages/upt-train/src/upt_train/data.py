"""From a field store to what the loop and the evaluation consume: Batches and test trajectories."""

from __future__ import annotations

import torch
from torch import Tensor

from upt_data import (
    BurgersSpec,
    FieldStore,
    NextStepDataset,
    TrajectoryDataset,
    generate_burgers_store,
)
from upt_data.store import store_exists
from upt_train.batches import BatchSchedule
from upt_train.config import ConfigError, DataConfig, RunConfig
from upt_train.evaluate import TestTrajectories
from upt_train.objective import Batch


def ensure_store(config: DataConfig, progress: bool) -> FieldStore:
    """Open the configured store, generating it first when nothing is at its path yet."""
    if store_exists(config.store):
        return FieldStore.open(config.store)
    spec = BurgersSpec(
        viscosity=config.viscosity,
        resolution=config.resolution,
        num_train=config.num_train,
        num_valid=config.num_valid,
        num_test=config.num_test,
        seed=config.seed,
    )
    if progress:
        print(f"generating {config.store} (Burgers, nu={config.viscosity}): once per config")
    return generate_burgers_store(config.store, spec, progress=progress)


def conditioning(dt: Tensor, viscosity: Tensor) -> Tensor:
    """The scalars a conditioned model sees: (step size, viscosity), (B, 2)."""
    return torch.stack([dt.float(), viscosity.float()], dim=-1)


class TrainingData:
    """Training batches for one rank, and the test split for evaluation."""

    def __init__(self, config: RunConfig, rank: int, world_size: int) -> None:
        data = config.data
        self.store = FieldStore.open(data.store)
        stored = len(self.store.coords)
        if stored != data.resolution:
            raise ConfigError(
                f"data.resolution is {data.resolution} but {data.store} holds {stored} points; "
                "fix the config or point data.store at another path"
            )
        for resolution in config.eval.super_resolution:
            if stored % resolution:
                raise ConfigError(
                    f"eval.super_resolution: {resolution} must divide the stored {stored} points"
                )
        self.config, self.rank = config, rank
        self.dataset = NextStepDataset(
            data.store,
            "train",
            stride=data.stride,
            grid_stride=data.grid_stride,
            input_points=data.input_points,
            query_points=data.query_points,
            seed=data.seed,
        )
        try:
            self.schedule = BatchSchedule(
                num_samples=len(self.dataset),
                batch_size=config.training.batch_size,
                grad_accum_steps=config.training.grad_accum_steps,
                world_size=world_size,
                seed=config.training.seed,
            )
        except ValueError as error:
            raise ConfigError(str(error)) from error
        self.coord_dim = self.store.coords.shape[1]
        self.num_channels = self.store.num_channels

    def train_batch(self, step: int, micro: int) -> Batch:
        """This rank's share of micro-batch `micro` of optimizer step `step`."""
        indices = self.schedule.indices(step, micro, self.rank)
        items = []
        for position, index in enumerate(indices):
            generator = torch.Generator().manual_seed(
                self.config.data.seed * 1_000_003 + index * 7919 + step * 104_729 + position
            )
            items.append(self.dataset.sample(index, generator))
        dt, viscosity = (
            torch.tensor([item["meta"][key] for item in items]) for key in ("dt", "viscosity")
        )
        return Batch(
            fields=torch.stack([item["fields_orig"] for item in items]),
            coords=torch.stack([item["coords"] for item in items]),
            query_coords=torch.stack([item["query_coords"] for item in items]),
            target=torch.stack([item["target"] for item in items]),
            cond=conditioning(dt, viscosity),
        )

    def test_trajectories(self, device: torch.device) -> TestTrajectories:
        """The whole test split at the training time stride, normalized, with the training grid
        marked."""
        stride = self.config.data.stride
        dataset = TrajectoryDataset(self.config.data.store, "test")
        fields = torch.stack([dataset[i]["fields"][::stride] for i in range(len(dataset))])
        times = torch.from_numpy(self.store.times[::stride]).float()
        count = len(dataset)
        dt = torch.full((count,), float(times[1] - times[0]))
        cond = conditioning(dt, torch.full((count,), self.store.viscosity))
        normalization = self.store.normalization
        mean = torch.from_numpy(normalization.mean).to(device)
        std = torch.from_numpy(normalization.std).to(device)
        return TestTrajectories(
            fields=fields.to(device),
            coords=torch.from_numpy(self.store.coords).float().to(device),
            model_points=torch.arange(0, len(self.store.coords), self.config.data.grid_stride),
            times=times,
            cond=cond.to(device),
            denormalize=lambda values: values * std + mean,
        )

    def super_resolution_points(self) -> dict[str, Tensor]:
        """Point indices of each evaluation resolution other than the training one."""
        stored = len(self.store.coords)
        train = self.config.data.train_resolution or stored
        return {
            str(r): torch.arange(0, stored, stored // r)
            for r in self.config.eval.super_resolution
            if r != train
        }
