"""Shared pieces of the asv suite: the configs, one training step as upt-train's loop takes it.

The benchmarks import only upt-train's public API (and upt-data for the data benchmarks), so asv
can measure any commit; the workloads are the configs shipped inside that commit's upt-train.
"""

from __future__ import annotations

import dataclasses
import math
import resource
import statistics
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from upt_models import UPT
from upt_models.relative_position import RelativePositionBias
from upt_train import (
    Batch,
    RunConfig,
    UPTObjective,
    build_model,
    compile_objective,
    keep_freed_host_memory,
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


def step_config(
    label: str, device: str, overrides: tuple[str, ...] = (), base: str = "burgers"
) -> RunConfig:
    """The golden or inverse-loss config: on CUDA the GPU pair, on the CPU `base` with the
    inverse losses off or on."""
    if device == "cuda":
        return load_config(GPU_CONFIGS[label], list(overrides))
    inverse = f"training.use_upt_inverse_losses={INVERSE[label]}"
    return load_config(base, [inverse, *overrides])


def synthetic_batch(config: RunConfig, device: torch.device) -> Batch:
    """A batch of the config's shapes: Burgers-like sine fields on the training grid, K target
    frames (K = training.unroll_steps) at a sorted random subset of the points (all of them:
    the coords tensor itself, as upt-train's collate gives it)."""
    data, size = config.data, config.training.batch_size
    points = data.train_resolution or data.resolution
    queries = min(data.query_points or points, points)
    steps = config.training.unroll_steps
    generator = torch.Generator().manual_seed(0)
    coords = ((torch.arange(points) + 0.5) / points).reshape(1, points, 1).repeat(size, 1, 1)
    phase = 2 * math.pi * torch.rand(size, 1, 1, generator=generator)
    fields = torch.sin(2 * math.pi * coords + phase)
    order = torch.stack(
        [torch.randperm(points, generator=generator)[:queries].sort().values for _ in range(size)]
    )
    # every point queried: the same tensor, as upt-train's collate gives it
    query_coords = coords if queries == points else torch.gather(coords, 1, order[..., None])
    target = torch.stack(
        [torch.sin(2 * math.pi * query_coords + phase + 0.01 * k) for k in range(1, steps + 1)],
        dim=1,
    )
    cond = torch.tensor([[0.01, data.viscosity]]).expand(size, -1)
    batch = Batch(fields, coords, query_coords, target, cond=cond, seed=0)
    return batch.to(device)


def periodic_model(config: RunConfig, biased: bool = True) -> UPT:
    """The config's model for periodic 1D Burgers data (seeded); `biased=False` switches its
    attention biases off: the perceiver latent's anchors (`anchored_latent=False`, the official
    design) or the grid latent's relative position bias (every block attends without one)."""
    torch.manual_seed(config.training.seed)
    model = build_model(
        config, coord_dim=1, num_channels=1, periodic=True, translation_invariant=True
    )
    if not biased and model.config.latent == "perceiver":
        torch.manual_seed(config.training.seed)
        model = UPT(dataclasses.replace(model.config, anchored_latent=False))
    elif not biased:
        for module in model.modules():
            if isinstance(module, RelativePositionBias):
                module.forward = lambda count=module.num_blocks: [None] * count
    return model


def training_step(
    config: RunConfig,
    device: torch.device,
    model: UPT | None = None,
    keep_host_memory: bool = True,
) -> Callable[[], None]:
    """One optimizer step through upt-train's own `train_step` (autocast on CUDA; the objective
    compiled under `training.compile`, in `training.compile_mode`) of `model` (default:
    the model the config builds for periodic 1D Burgers data). On the CPU freed host memory is
    kept for reuse, as upt-train's loop keeps it, unless `keep_host_memory` is False (the
    setting is process-wide: leave it off for every step of a comparison)."""
    settings = config.training
    if device.type == "cpu" and keep_host_memory:
        keep_freed_host_memory()
    model = (periodic_model(config) if model is None else model).to(device)
    objective = compile_objective(UPTObjective(model, settings), settings)
    optimizer = make_optimizer(model, settings.lr, settings.weight_decay)
    batch = synthetic_batch(config, device)
    autocast = torch.bfloat16 if settings.amp and device.type == "cuda" else None

    def step() -> None:
        train_step(
            objective, optimizer, [batch], grad_clip=settings.grad_clip, autocast_dtype=autocast
        )
        synchronize(device)

    return step


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of `fn` over `repeats` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def interleaved_seconds(steps: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each step, the steps taking turns (one warm-up call each), so that
    ratios between them see the same machine."""
    for step in steps.values():
        step()
    times: dict[str, list[float]] = {label: [] for label in steps}
    for _ in range(repeats):
        for label, step in steps.items():
            started = time.perf_counter()
            step()
            times[label].append(time.perf_counter() - started)
    return {label: statistics.median(values) for label, values in times.items()}


def matmul_rate(
    size: int = 1024,
    repeats: int = 10,
    device: torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> float:
    """Measured FLOP/s of a (size x size) @ (size x size) product of `dtype` on `device` (default
    the CPU, on the current threads)."""
    device = torch.device("cpu") if device is None else device
    a, b = (torch.randn(size, size, device=device, dtype=dtype) for _ in range(2))
    return 2 * size**3 / median_seconds(synchronized(lambda: a @ b, device), repeats)


def synchronized(fn: Callable[[], object], device: torch.device) -> Callable[[], None]:
    """`fn`, then a wait for the device to finish it (a no-op on the CPU)."""

    def run() -> None:
        fn()
        synchronize(device)

    return run


def host_cost(step: Callable[[], object]) -> tuple[int, float]:
    """The minor page faults and the kernel (system) seconds of one call of `step`."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    step()
    after = resource.getrusage(resource.RUSAGE_SELF)
    return after.ru_minflt - before.ru_minflt, after.ru_stime - before.ru_stime


def step_flops(step: Callable[[], object]) -> int:
    """FLOPs of one call of `step` as torch's FlopCounterMode counts them (matmuls, convolutions
    and attention, forward and backward)."""
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()
