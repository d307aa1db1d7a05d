"""One run of a config, end to end: the store, training, evaluation, the run folder. And the
evaluation of a finished run on data it never saw.

`run` is what `upt-train CONFIG`, the harness and the asv benchmarks call; `evaluate_run` is
`upt-train evaluate RUN_DIR`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn

from upt_data import FieldStore, Normalization
from upt_models import CheckpointError, load_upt
from upt_train.checkpointing import atomic_write, remove_stale_temporaries
from upt_train.config import ConfigError, RunConfig, config_from_dict
from upt_train.data import TrainingData, ensure_store, trajectories_for
from upt_train.distributed import Distributed
from upt_train.evaluate import Evaluation, evaluate
from upt_train.forecast import Forecaster, Persistence, UPTForecaster
from upt_train.loop import (
    METRICS_FILE,
    MODEL_FILE,
    build_model,
    data_geometry,
    train,
)
from upt_train.measure import peak_cuda_mib, peak_rss_mib, reset_peak, synchronize
from upt_train.objective import UPTObjective
from upt_train.report import read_metrics, write_report
from upt_train.trajectories import Trajectories

CONFIG_FILE = "config.yaml"
NORMALIZATION_FILE = "normalization.json"


@dataclass
class Learner:
    """What a run trains and scores: the model, its training objective (forward(batch) -> loss
    terms with "total") and the forecaster that evaluates it."""

    model: nn.Module
    objective: nn.Module
    forecaster: Forecaster


LearnerFactory = Callable[[RunConfig, TrainingData], Learner]


def upt_learner(config: RunConfig, data: TrainingData) -> Learner:
    """The configured UPT preset, `UPTObjective` and `UPTForecaster`: what `run` trains unless
    told otherwise."""
    model = build_model(config, **data_geometry(data.store))
    forecaster = UPTForecaster(model, decode_batch=config.eval.batch_size)
    return Learner(model, UPTObjective(model, config.training), forecaster)


@dataclass
class RunResult:
    """What a finished run hands back (on the main process): its summary (as in summary.json),
    the trained model and the full evaluation."""

    summary: dict[str, Any]
    model: nn.Module
    evaluation: Evaluation


def write_normalization(path: Path, normalization: Normalization) -> None:
    values = {"mean": normalization.mean.tolist(), "std": normalization.std.tolist()}
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(values) + "\n"))


def read_normalization(path: Path) -> Normalization:
    try:
        values = json.loads(path.read_text())
        return Normalization(
            np.asarray(values["mean"], dtype=np.float32),
            np.asarray(values["std"], dtype=np.float32),
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(
            f"{path} is missing or unreadable ({error}); is it a run folder?"
        ) from error


def score(
    forecaster: Forecaster,
    config: RunConfig,
    store: FieldStore,
    split: str,
    normalization: Normalization,
    device: torch.device,
    progress: bool,
) -> tuple[Evaluation, Trajectories]:
    """Evaluate `forecaster` and persistence on `split` of `store`; the forecaster's evaluation
    and the trajectories it was scored on. Persistence's figures join its scalars."""
    trajectories = trajectories_for(config, store, split, normalization, device)
    settings = {
        "rollout_steps": config.eval.rollout_steps,
        "correlation_threshold": config.eval.correlation_threshold,
        "batch_size": config.eval.batch_size,
    }
    evaluation = evaluate(forecaster, trajectories, progress=progress, **settings)
    floor = evaluate(Persistence(), trajectories, **settings).scalars
    evaluation.scalars |= {
        "persistence_one_step_nrmse": floor["one_step_nrmse"],
        "persistence_rollout_nrmse": floor["autoregressive_rollout_nrmse"],
    }
    return evaluation, trajectories


def write_config(run_dir: Path, config: RunConfig) -> None:
    text = yaml.safe_dump(config.to_dict(), sort_keys=False)
    atomic_write(run_dir / CONFIG_FILE, lambda tmp: tmp.write_text(text))


def prepare_run_dir(run_dir: Path, config: RunConfig, resume: bool) -> None:
    """A new run gets an empty folder and its config.yaml; a folder that already holds a run is
    refused (resume it instead). A resume changes nothing here: its config.yaml is rewritten
    with the first checkpoint it writes, so a resume that fails leaves the run as it was."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"--run-dir {run_dir} is a file, not a folder")
    if run_dir.is_dir():
        remove_stale_temporaries(run_dir)
    if resume:
        return
    if run_dir.is_dir() and any(run_dir.iterdir()):
        raise ConfigError(
            f"{run_dir} already holds files (a run?); continue it with --resume {run_dir}, or "
            "choose another --run-dir"
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot create the run folder {run_dir}: {error}") from error
    write_config(run_dir, config)


def run(
    config: RunConfig,
    run_dir: Path,
    *,
    resume: bool = False,
    progress: bool = True,
    world: Distributed | None = None,
    learner: LearnerFactory = upt_learner,
) -> RunResult | None:
    """Make sure the store exists, train (or resume) into `run_dir`, evaluate on
    `config.eval.split`, write the summary and plots. Returns None on ranks other than 0.
    `learner` builds what is trained (default: the configured UPT)."""
    started = time.perf_counter()
    world = world or Distributed.from_environment(config.device)
    if world.is_main:
        prepare_run_dir(run_dir, config, resume)
        store = ensure_store(config.data, progress=progress)
        if not (run_dir / NORMALIZATION_FILE).is_file():
            write_normalization(run_dir / NORMALIZATION_FILE, store.normalization)
    world.barrier()
    if not world.is_main:
        store = FieldStore.open(config.data.store)
    data = TrainingData(config, store, rank=world.rank, world_size=world.world_size)
    if store.num_trajectories(config.eval.split) == 0:
        raise ConfigError(
            f"{store.url}: the {config.eval.split} split (eval.split) holds no trajectories to "
            "evaluate on; choose another split or a store that has some"
        )
    torch.manual_seed(config.training.seed)
    built = learner(config, data)
    reset_peak(world.device)
    training_started = time.perf_counter()
    model = train(
        config,
        run_dir,
        data,
        world,
        resume=resume,
        progress=progress,
        learner=(built.model, built.objective),
        on_checkpoint=(lambda: write_config(run_dir, config)) if resume else None,
    )
    synchronize(world.device)
    measured = {
        "train_seconds": round(time.perf_counter() - training_started, 2),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "peak_cuda_mib": peak_cuda_mib(world.device),
    }
    if not world.is_main:
        return None
    evaluation, trajectories = score(
        built.forecaster,
        config,
        store,
        config.eval.split,
        store.normalization,
        world.device,
        progress,
    )
    history = read_metrics(run_dir / METRICS_FILE)
    extra = {
        "config": config.name,
        "split": config.eval.split,
        "parameters": sum(p.numel() for p in model.parameters()),
        "training_steps": config.training.max_steps,
        "use_upt_inverse_losses": config.training.use_upt_inverse_losses,
        "loop_seconds": history[-1]["loop_seconds"] if history else None,
        **measured,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    summary = write_report(
        run_dir, evaluation, trajectories, history, extra, config.eval.plot_trajectories
    )
    return RunResult(summary, model, evaluation)


def load_run_config(run_dir: Path, overrides: list[str] | None = None) -> RunConfig:
    """The config a run folder was trained with (plus dotted overrides)."""
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{run_dir}: no {CONFIG_FILE} there; is it a run folder?")
    try:
        values = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from error
    return config_from_dict(values or {}, overrides)


def evaluate_run(
    run_dir: Path,
    *,
    store_url: str | None = None,
    split: str = "test",
    out_dir: Path | None = None,
    progress: bool = True,
) -> tuple[dict[str, Any], Path]:
    """Score a finished run on `split` of another store (default: the run's own), in the run's
    normalization, at its time stride and training resolution. Writes summary.json and plots to
    `out_dir` (default RUN_DIR/evaluations/STORE-SPLIT); returns the summary and that folder."""
    config = load_run_config(run_dir)
    model_path = run_dir / MODEL_FILE
    if not model_path.is_file():
        raise CheckpointError(f"{run_dir}: no {MODEL_FILE}; has the run saved a checkpoint?")
    model = load_upt(model_path)
    normalization = read_normalization(run_dir / NORMALIZATION_FILE)
    url = store_url or config.data.store
    store = FieldStore.open(url)
    if store.coords.shape[1] != model.config.coord_dim or store.num_channels != (
        model.config.num_channels
    ):
        raise ConfigError(
            f"{url} holds {store.num_channels}-channel fields in {store.coords.shape[1]}D; the "
            f"model takes {model.config.num_channels} channels in {model.config.coord_dim}D"
        )
    if store.periodic != model.config.periodic:
        raise ConfigError(
            f"{url} is {'' if store.periodic else 'not '}periodic but the model was trained "
            f"{'on' if model.config.periodic else 'off'} a periodic domain"
        )
    device = Distributed.from_environment(config.device).device
    forecaster = UPTForecaster(model.to(device), decode_batch=config.eval.batch_size)
    evaluation, trajectories = score(
        forecaster, config, store, split, normalization, device, progress
    )
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(url).name)
    target = out_dir or run_dir / "evaluations" / f"{name}-{split}"
    target.mkdir(parents=True, exist_ok=True)
    extra = {"run": str(run_dir), "store": url, "split": split, "config": config.name}
    summary = write_report(
        target, evaluation, trajectories, [], extra, config.eval.plot_trajectories
    )
    return summary, target
