"""Shared pieces of the asv suite: the configs, one training step as upt-train's loop takes it.

The benchmarks import only upt-train's public API (and upt-data for the data benchmarks), so asv
can measure any commit; the workloads are the configs shipped inside that commit's upt-train.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from upt_train import (
    Batch,
    RunConfig,
    UPTObjective,
    build_model,
    load_config,
    make_optimizer,
    synchronize,
    train_step,
)

LABELS = ("golden", "inverse losses")
INVERSE = {"golden": "false", "inverse losses": "true"}

# The CPU workload is the tiny default with the inverse losses off or on; the GPU one is the
# golden GPU config (upt-8m) and the same with the inverse losses (burgers_upt_losses.yaml).
GPU_CONFIGS = {"golden": "burgers_golden", "inverse losses": "burgers_upt_losses"}


def require_device(device: str) -> torch.device:
    """The torch device; NotImplementedError (asv: skipped) for CUDA on a machine without it."""
    if device == "cuda" and not torch.cuda.is_available():
        raise NotImplementedError("no CUDA device")
    torch.set_num_threads(1)
    return torch.device(device)


def step_config(label: str, device: str, overrides: tuple[str, ...] = ()) -> RunConfig:
    if device == "cuda":
        return load_config(GPU_CONFIGS[label], list(overrides))
    return load_config("burgers", [f"training.use_upt_inverse_losses={INVERSE[label]}", *overrides])


def synthetic_batch(config: RunConfig, device: torch.device) -> Batch:
    """A batch of the config's shapes: Burgers-like sine fields on the training grid, K target
    frames (K = training.unroll_steps)."""
    data, size = config.data, config.training.batch_size
    points = data.train_resolution or data.resolution
    queries = min(data.query_points or points, points)
    steps = config.training.unroll_steps
    generator = torch.Generator().manual_seed(0)
    coords = ((torch.arange(points) + 0.5) / points).reshape(1, points, 1).expand(size, -1, -1)
    phase = 2 * math.pi * torch.rand(size, 1, 1, generator=generator)
    fields = torch.sin(2 * math.pi * coords + phase)
    order = torch.stack(
        [torch.randperm(points, generator=generator)[:queries] for _ in range(size)]
    )
    query_coords = torch.gather(coords, 1, order[..., None])
    target = torch.stack(
        [torch.sin(2 * math.pi * query_coords + phase + 0.01 * k) for k in range(1, steps + 1)],
        dim=1,
    )
    cond = torch.tensor([[0.01, data.viscosity]]).expand(size, -1)
    batch = Batch(fields, coords.contiguous(), query_coords, target, cond=cond, seed=0)
    return batch.to(device)


def training_step(config: RunConfig, device: torch.device) -> Callable[[], None]:
    """One optimizer step through upt-train's own `train_step` (autocast on CUDA), of the model
    the config builds for periodic 1D Burgers data."""
    settings = config.training
    torch.manual_seed(settings.seed)
    model = build_model(
        config, coord_dim=1, num_channels=1, periodic=True, translation_invariant=True
    ).to(device)
    objective = UPTObjective(model, settings)
    optimizer = make_optimizer(model, settings.lr, settings.weight_decay)
    batch = synthetic_batch(config, device)
    autocast = torch.bfloat16 if settings.amp and device.type == "cuda" else None

    def step() -> None:
        train_step(
            objective, optimizer, [batch], grad_clip=settings.grad_clip, autocast_dtype=autocast
        )
        synchronize(device)

    return step
