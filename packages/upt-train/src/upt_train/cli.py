"""`upt-train CONFIG [key=value ...] [--resume RUN_DIR]`: train, evaluate, report."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

import yaml

from upt_data import UptDataError
from upt_models import CheckpointError as ModelCheckpointError
from upt_train.checkpointing import CheckpointError, atomic_write
from upt_train.config import ConfigError, RunConfig, config_from_dict, load_config
from upt_train.data import TrainingData, ensure_store
from upt_train.distributed import Distributed
from upt_train.evaluate import evaluate
from upt_train.report import format_summary, read_metrics, write_report
from upt_train.train import METRICS_FILE, NonFiniteLossError, train

CONFIG_FILE = "config.yaml"

DESCRIPTION = """\
Train a Universal Physics Transformer, evaluate it on the test split, and write a run folder.

CONFIG is a name from configs/ (burgers, burgers_golden, burgers_upt_losses, ...) or a path to a
YAML file. Dotted overrides follow it, with YAML values:

  upt-train burgers training.lambda_inv_enc=0.1 training.max_steps=200

The Burgers data store named by data.store is generated first when it is missing. The run folder
(runs/NAME-TIMESTAMP unless --run-dir is given) receives config.yaml, model.safetensors,
training_state.safetensors, metrics.jsonl, summary.json and plots/.

--resume RUN_DIR continues a run from its last checkpoint with the config stored in it (overrides
still apply, e.g. a larger training.max_steps). Under torchrun, every process trains on its share
of the same global batch and only rank 0 writes:

  torchrun --nproc-per-node 2 -m upt_train burgers
"""


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="upt-train",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", nargs="?", help="config name from configs/ or a .yaml path")
    parser.add_argument("overrides", nargs="*", help="dotted.key=value overrides")
    parser.add_argument("--resume", metavar="RUN_DIR", type=Path, help="continue this run")
    parser.add_argument("--run-dir", type=Path, help="write the run here instead of runs/")
    arguments = parser.parse_args(argv)
    if arguments.config is None and arguments.resume is None:
        parser.error("give a CONFIG (e.g. burgers) or --resume RUN_DIR")
    return arguments


def resolve_run(arguments: argparse.Namespace) -> tuple[RunConfig, Path]:
    """The config and run folder, from a config name or from the run being resumed."""
    if arguments.resume is not None:
        run_dir = arguments.resume
        stored = run_dir / CONFIG_FILE
        if not stored.is_file():
            raise ConfigError(f"--resume {run_dir}: no {CONFIG_FILE} there; is it a run folder?")
        overrides = arguments.overrides
        if arguments.config is not None:
            overrides = [arguments.config, *overrides]
            if "=" not in arguments.config:
                raise ConfigError("with --resume, give overrides only: the run's config is used")
        return config_from_dict(yaml.safe_load(stored.read_text()), overrides), run_dir
    config = load_config(arguments.config, arguments.overrides)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return config, arguments.run_dir or Path(config.out_dir) / f"{config.name}-{stamp}"


def run(arguments: argparse.Namespace) -> None:
    started = time.perf_counter()
    config, run_dir = resolve_run(arguments)
    world = Distributed.from_environment(config.device)
    try:
        if world.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            config_text = yaml.safe_dump(config.to_dict(), sort_keys=False)
            atomic_write(run_dir / CONFIG_FILE, lambda tmp: tmp.write_text(config_text))
            ensure_store(config.data, progress=True)
        world.barrier()
        data = TrainingData(config, rank=world.rank, world_size=world.world_size)
        model = train(config, run_dir, data, world, resume=arguments.resume is not None)
        if not world.is_main:
            return
        test = data.test_trajectories(world.device)
        evaluation = evaluate(
            model,
            test,
            rollout_steps=config.eval.rollout_steps,
            super_resolution_points=data.super_resolution_points(),
            correlation_threshold=config.eval.correlation_threshold,
            batch_size=config.eval.batch_size,
            progress=True,
        )
        extra = {
            "config": config.name,
            "parameters": sum(p.numel() for p in model.parameters()),
            "training_steps": config.training.max_steps,
            "use_upt_inverse_losses": config.training.use_upt_inverse_losses,
            "wall_seconds": round(time.perf_counter() - started, 1),
        }
        history = read_metrics(run_dir / METRICS_FILE)
        summary = write_report(
            run_dir, evaluation, test, history, extra, config.eval.plot_trajectories
        )
        print(format_summary(summary, run_dir))
    finally:
        world.close()


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    try:
        run(arguments)
    except (
        ConfigError,
        UptDataError,
        CheckpointError,
        ModelCheckpointError,
        NonFiniteLossError,
    ) as error:
        print(f"upt-train: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "upt-train: interrupted; the last checkpoint in the run folder is intact",
            file=sys.stderr,
        )
        return 130
    return 0
