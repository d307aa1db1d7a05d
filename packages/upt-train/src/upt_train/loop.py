"""The training loop, top to bottom: batch, forward, backward, clip, step, log, checkpoint."""

from __future__ import annotations

import contextlib
import json
import math
import time
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from upt_models import UPT, preset, save_upt
from upt_train.checkpointing import (
    TrainingState,
    atomic_write,
    load_training_state,
    save_training_state,
)
from upt_train.config import RunConfig
from upt_train.data import TrainingData
from upt_train.distributed import Distributed
from upt_train.objective import UPTObjective
from upt_train.schedule import set_learning_rate

STATE_FILE = "training_state.safetensors"
MODEL_FILE = "model.safetensors"
METRICS_FILE = "metrics.jsonl"


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or Inf; the last checkpoint on disk is the last good one."""


def rng_states(device: torch.device) -> dict[str, torch.Tensor]:
    states = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def restore_rng_states(states: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(states["torch"])
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"], device)


def drop_metrics_after(path: Path, step: int) -> None:
    """Forget rows logged after the checkpoint a resume starts from: they will be logged again."""
    if path.is_file():
        rows = [line for line in path.read_text().splitlines() if json.loads(line)["step"] <= step]
        atomic_write(path, lambda tmp: tmp.write_text("".join(f"{row}\n" for row in rows)))


def build_model(config: RunConfig, data: TrainingData) -> UPT:
    model_config = preset(
        config.model.preset, coord_dim=data.coord_dim, num_channels=data.num_channels
    )
    return UPT(model_config)


def train(
    config: RunConfig, run_dir: Path, data: TrainingData, world: Distributed, resume: bool
) -> UPT:
    """Train to `config.training.max_steps`, checkpointing into `run_dir`; return the model."""
    settings = config.training
    torch.manual_seed(settings.seed)
    model = build_model(config, data).to(world.device)
    objective = UPTObjective(model, settings)
    if settings.compile:
        objective = torch.compile(objective)
    step_fn = DistributedDataParallel(objective) if world.world_size > 1 else objective
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    start = 0
    if resume:
        state = load_training_state(run_dir / STATE_FILE, model, optimizer)
        restore_rng_states(state.rng, world.device)
        start = state.step
        if world.is_main:
            drop_metrics_after(run_dir / METRICS_FILE, start)
    use_bf16 = settings.amp and world.device.type == "cuda"
    micro_steps = settings.grad_accum_steps

    progress = tqdm(
        range(start, settings.max_steps),
        initial=start,
        total=settings.max_steps,
        desc="training",
        disable=not world.is_main,
        dynamic_ncols=True,
    )
    for step in progress:
        started = time.perf_counter()
        lr = set_learning_rate(optimizer, step, settings)
        optimizer.zero_grad(set_to_none=True)
        totals: dict[str, torch.Tensor] = {}
        model.train()
        for micro in range(micro_steps):
            batch = data.train_batch(step, micro).to(world.device)
            generator = torch.Generator().manual_seed(
                settings.seed * 1_000_003 + (step * micro_steps + micro) * 65_537 + world.rank
            )
            last = micro == micro_steps - 1
            sync = contextlib.nullcontext() if last or world.world_size == 1 else step_fn.no_sync()
            with sync:
                with torch.autocast(world.device.type, torch.bfloat16, enabled=use_bf16):
                    losses = step_fn(batch, generator)
                (losses["total"] / micro_steps).backward()
            for key, value in losses.items():
                totals[key] = totals.get(key, 0.0) + value.detach().float() / micro_steps
        reported = world.mean(torch.stack(list(totals.values())))
        values = dict(zip(totals, reported.tolist(), strict=True))
        if not all(math.isfinite(v) for v in values.values()):
            raise NonFiniteLossError(
                f"the loss became non-finite at step {step} ({values}); the last good checkpoint "
                f"is {run_dir / STATE_FILE}; lower training.lr or raise training.warmup_steps"
            )
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        if not torch.isfinite(grad_norm):
            raise NonFiniteLossError(
                f"the gradient became non-finite at step {step}; the last good checkpoint is "
                f"{run_dir / STATE_FILE}; lower training.lr or training.grad_clip"
            )
        optimizer.step()

        done = step + 1
        if world.is_main and (done % settings.log_every == 0 or done == settings.max_steps):
            row = {"step": done, "lr": lr, "grad_norm": float(grad_norm)}
            row |= {f"loss/{k}": v for k, v in values.items()}
            row["step_seconds"] = time.perf_counter() - started
            with open(run_dir / METRICS_FILE, "a") as log:
                log.write(json.dumps(row) + "\n")
            progress.set_postfix(loss=f"{values['total']:.3g}", lr=f"{lr:.2g}")
        if world.is_main and (done % settings.checkpoint_every == 0 or done == settings.max_steps):
            state = TrainingState(done, rng_states(world.device), {"run": config.name})
            save_training_state(run_dir / STATE_FILE, model, optimizer, state)
            atomic_write(run_dir / MODEL_FILE, lambda tmp: save_upt(model, tmp))
    progress.close()
    return model
