"""The training loop, top to bottom: batches, `train_step`, log, checkpoint.

The loss is read back to the host only on steps that log or checkpoint; finiteness is tracked on
the device every step (`NonFiniteGuard`) and checked before anything is written, so a checkpoint
on disk never holds weights updated from a non-finite step.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from upt_data import FieldStore
from upt_models import UPT, preset, save_upt
from upt_train.checkpointing import (
    TrainingState,
    atomic_write,
    load_training_state,
    save_training_state,
)
from upt_train.config import ConfigError, RunConfig
from upt_train.data import TrainingData
from upt_train.distributed import Distributed
from upt_train.host_memory import keep_freed_host_memory
from upt_train.objective import UPTObjective
from upt_train.report import read_metrics
from upt_train.schedule import set_learning_rate
from upt_train.seeds import derive_seed
from upt_train.step import NonFiniteGuard, compile_objective, train_step

STATE_FILE = "training_state.safetensors"
MODEL_FILE = "model.safetensors"
METRICS_FILE = "metrics.jsonl"


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
    """Forget rows logged after the checkpoint a resume starts from (they will be logged again),
    and a last line cut short by a kill."""
    if path.is_file():
        rows = [json.dumps(row) for row in read_metrics(path) if row.get("step", 0) <= step]
        atomic_write(path, lambda tmp: tmp.write_text("".join(f"{row}\n" for row in rows)))


def data_geometry(store: FieldStore) -> dict[str, int | bool]:
    """What a model must know of a store's data: coordinate axes, channels, whether its domain
    is periodic and its equation translation invariant (`build_model`'s keywords)."""
    return {
        "coord_dim": store.coords.shape[1],
        "num_channels": store.num_channels,
        "periodic": store.periodic,
        "translation_invariant": store.translation_invariant,
    }


def build_model(
    config: RunConfig,
    *,
    coord_dim: int,
    num_channels: int,
    periodic: bool = False,
    translation_invariant: bool = False,
) -> UPT:
    """The configured preset for data of this geometry (see `data_geometry`)."""
    try:
        model_config = preset(
            config.model.preset,
            coord_dim=coord_dim,
            num_channels=num_channels,
            periodic=periodic,
            translation_invariant=translation_invariant,
            num_latent_tokens=config.model.num_latent_tokens,
        )
    except ValueError as error:
        raise ConfigError(f"model: {error}") from error
    return UPT(model_config)


def make_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW with weight decay on weight matrices only (dim >= 2), as nanoGPT does: biases, norms
    and the attention biases' learned widths are not pulled towards zero."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    other = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": other, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr)


def save_model(model: nn.Module, path: Path) -> None:
    """A UPT with its config (`load_upt` reads it back); any other module's state dict."""
    if isinstance(model, UPT):
        atomic_write(path, lambda tmp: save_upt(model, tmp))
    else:
        state = model.state_dict().items()
        tensors = {k: v.detach().cpu().contiguous() for k, v in state if isinstance(v, Tensor)}
        atomic_write(path, lambda tmp: save_file(tensors, tmp))


def train(
    config: RunConfig,
    run_dir: Path,
    data: TrainingData,
    world: Distributed,
    resume: bool,
    progress: bool = True,
    learner: tuple[nn.Module, nn.Module] | None = None,
    on_checkpoint: Callable[[], None] | None = None,
) -> nn.Module:
    """Train to `config.training.max_steps`, checkpointing into `run_dir`; return the model.
    A resume continues from the run's checkpoint, or from the start when it was stopped before
    writing one.

    `learner` = (model, objective) trains another model through the same loop (the harness's
    peers); by default the configured UPT with `UPTObjective`. `on_checkpoint` runs before each
    checkpoint is written (a resume rewrites the run's config.yaml there)."""
    settings = config.training
    if learner is None:
        torch.manual_seed(settings.seed)
        model = build_model(config, **data_geometry(data.store))
        learner = model, UPTObjective(model, settings)
    model, objective = learner
    model.to(world.device)
    if world.device.type == "cpu":
        keep_freed_host_memory()
    objective = compile_objective(objective, settings)
    if world.world_size > 1:
        objective = DistributedDataParallel(objective)
    optimizer = make_optimizer(model, settings.lr, settings.weight_decay)
    start = 0
    if resume and (run_dir / STATE_FILE).is_file():
        state = load_training_state(run_dir / STATE_FILE, model, optimizer)
        restore_rng_states(state.rng, world.device)
        start = state.step
    if resume and world.is_main:
        drop_metrics_after(run_dir / METRICS_FILE, start)
    autocast = torch.bfloat16 if settings.amp and world.device.type == "cuda" else None
    guard = NonFiniteGuard(world.device)
    batches = data.batches(start, settings.max_steps)

    bar = tqdm(
        range(start, settings.max_steps),
        initial=start,
        total=settings.max_steps,
        desc="training",
        disable=not (world.is_main and progress),
        dynamic_ncols=True,
    )
    clock = LoopClock(start)
    for step in bar:
        lr = set_learning_rate(optimizer, step, settings)
        micro_batches = [
            dataclasses.replace(
                next(batches).to(world.device),
                seed=derive_seed(settings.seed, "objective", step, micro, world.rank),
            )
            for micro in range(settings.grad_accum_steps)
        ]
        model.train()
        result = train_step(
            objective,
            optimizer,
            micro_batches,
            grad_clip=settings.grad_clip,
            autocast_dtype=autocast,
        )
        guard.update(step, result)

        done = step + 1
        log = done % settings.log_every == 0 or done == settings.max_steps
        checkpoint = done % settings.checkpoint_every == 0 or done == settings.max_steps
        if not (log or checkpoint):
            continue
        guard.check(_advice(run_dir))
        if log:
            terms = list(result.losses)
            values = world.mean(torch.stack([result.losses[k] for k in terms])).tolist()
            row = {"step": done, "lr": lr, "grad_norm": float(result.grad_norm)}
            row |= {f"loss/{k}": v for k, v in zip(terms, values, strict=True)}
            row |= clock.lap(done)
            if world.is_main:
                with open(run_dir / METRICS_FILE, "a") as metrics:
                    metrics.write(json.dumps(row) + "\n")
            bar.set_postfix(loss=f"{row['loss/total']:.3g}", lr=f"{lr:.2g}")
        if checkpoint and world.is_main:
            with clock.paused():
                if on_checkpoint is not None:
                    on_checkpoint()
                # the weights first: a kill between the two writes leaves the state of the last
                # checkpoint, from which a resume rewrites the weights (the other way round, a
                # kill after the final state would leave the previous checkpoint's weights)
                save_model(model, run_dir / MODEL_FILE)
                state = TrainingState(done, rng_states(world.device), {"run": config.name})
                save_training_state(run_dir / STATE_FILE, model, optimizer, state)
    bar.close()
    return model


class LoopClock:
    """Wall time of the training loop, without checkpoint writes: per logged row, the mean
    seconds per step since the last row and the loop's seconds so far (this process)."""

    def __init__(self, step: int) -> None:
        self.step, self.last, self.elapsed = step, time.perf_counter(), 0.0

    def lap(self, step: int) -> dict[str, float]:
        now = time.perf_counter()
        seconds = now - self.last
        self.elapsed += seconds
        row = {"step_seconds": seconds / max(step - self.step, 1), "loop_seconds": self.elapsed}
        self.step, self.last = step, now
        return row

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        before = time.perf_counter()
        yield
        self.last += time.perf_counter() - before


def _advice(run_dir: Path) -> str:
    checkpoint = run_dir / STATE_FILE
    where = (
        f"; the last good checkpoint is {checkpoint}"
        if checkpoint.is_file()
        else "; no checkpoint was written before it"
    )
    return f"{where}; try a lower training.lr, a longer training.warmup_steps or check the data"
