"""Shared pieces of the asv suite: the repository's configs, a training step as upt-train takes it,
and a small seeded Burgers store.

The benchmarks import only the four libraries, so asv can measure any commit of them; the
workloads (config files, sizes) come from the checkout asv runs from.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import torch

from upt_data import BurgersSpec, generate_burgers_store
from upt_models import UPT, preset
from upt_train.config import RunConfig, load_config
from upt_train.objective import Batch, UPTObjective

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
LABELS = ("golden", "inverse losses")
INVERSE = {"golden": "false", "inverse losses": "true"}

# The CPU workload is the tiny default with the inverse losses off or on; the GPU one is the
# golden GPU config (upt-8m) and the same with the inverse losses (burgers_upt_losses.yaml).
GPU_CONFIGS = {"golden": "burgers_golden.yaml", "inverse losses": "burgers_upt_losses.yaml"}

# A small store for short training runs: seconds to generate and to train on.
SMALL_STORE = BurgersSpec(
    viscosity=0.05,
    resolution=128,
    num_frames=51,
    final_time=0.5,
    num_train=16,
    num_valid=1,
    num_test=4,
    seed=0,
    solver_batch=16,
)


def require_device(device: str) -> torch.device:
    """The torch device; NotImplementedError (asv: skipped) for CUDA on a machine without it."""
    if device == "cuda" and not torch.cuda.is_available():
        raise NotImplementedError("no CUDA device")
    torch.set_num_threads(1)
    return torch.device(device)


def step_config(label: str, device: str) -> RunConfig:
    if device == "cuda":
        return load_config(str(CONFIGS / GPU_CONFIGS[label]))
    return load_config(
        str(CONFIGS / "burgers.yaml"), [f"training.use_upt_inverse_losses={INVERSE[label]}"]
    )


def synthetic_batch(config: RunConfig, device: torch.device) -> Batch:
    """A batch of the config's shapes: Burgers-like sine fields on the training grid."""
    data, size = config.data, config.training.batch_size
    points = data.train_resolution or data.resolution
    queries = min(data.query_points or points, points)
    generator = torch.Generator().manual_seed(0)
    coords = ((torch.arange(points) + 0.5) / points).reshape(1, points, 1).expand(size, -1, -1)
    phase = 2 * math.pi * torch.rand(size, 1, 1, generator=generator)
    fields = torch.sin(2 * math.pi * coords + phase)
    order = torch.stack(
        [torch.randperm(points, generator=generator)[:queries] for _ in range(size)]
    )
    query_coords = torch.gather(coords, 1, order[..., None])
    target = torch.sin(2 * math.pi * query_coords + phase + 0.01)
    cond = torch.tensor([[0.01, data.viscosity]]).expand(size, -1)
    return Batch(fields, coords.contiguous(), query_coords, target, cond).to(device)


def training_step(config: RunConfig, device: torch.device) -> Callable[[], None]:
    """One optimizer step of upt-train's objective, as its loop takes it (autocast on CUDA)."""
    settings = config.training
    torch.manual_seed(settings.seed)
    model = UPT(preset(config.model.preset, coord_dim=1, num_channels=1)).to(device)
    objective = UPTObjective(model, settings)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr)
    batch = synthetic_batch(config, device)
    generator = torch.Generator().manual_seed(0)
    use_bf16 = settings.amp and device.type == "cuda"

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, torch.bfloat16, enabled=use_bf16):
            losses = objective(batch, generator)
        losses["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return step


def small_store(path: Path) -> str:
    """Generate SMALL_STORE at `path` (once) and return its URL."""
    if not path.exists():
        generate_burgers_store(str(path), SMALL_STORE, progress=False)
    return str(path)
