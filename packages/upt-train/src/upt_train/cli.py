"""`upt-train CONFIG [key=value ...]`: train, evaluate, report; `upt-train evaluate RUN_DIR`:
score a finished run on any store."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from upt_data import UptDataError
from upt_models import CheckpointError
from upt_train.config import ConfigError, RunConfig, load_config
from upt_train.report import format_summary
from upt_train.run import evaluate_run, load_run_config, run
from upt_train.step import NonFiniteLossError

DESCRIPTION = """\
Train a Universal Physics Transformer, evaluate it on the test split, and write a run folder.

CONFIG is a name from configs/ (burgers, burgers_golden, burgers_upt_losses, ...) or a path to a
YAML file. Dotted overrides follow it, with YAML values:

  upt-train burgers training.lambda_inv_enc=0.1 training.max_steps=200

The data store named by data.store is generated first when it is missing (and checked against
the config when it exists). The run folder (runs/NAME-TIMESTAMP unless --run-dir is given)
receives config.yaml, normalization.json, model.safetensors, training_state.safetensors,
metrics.jsonl, summary.json and plots/.

--resume RUN_DIR continues a run from its last checkpoint with the config stored in it (overrides
still apply, e.g. a larger training.max_steps). Under torchrun, every process trains on its share
of the same global batch and only rank 0 writes:

  torchrun --nproc-per-node 2 -m upt_train burgers

upt-train evaluate RUN_DIR [--store URL] [--split test] scores a finished run on another store
(e.g. one imported from PDEBench); see `upt-train evaluate --help`.
"""

EVALUATE_DESCRIPTION = """\
Score a trained run on a split of any field store, in the run's own normalization, time stride
and training resolution; writes summary.json and plots to RUN_DIR/evaluations/STORE-SPLIT (or
--out) and prints the summary.

  upt-train evaluate runs/burgers-20261125-080000 --store data/pdebench.zarr --split test
"""


def parse_train_arguments(argv: list[str]) -> argparse.Namespace:
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


def parse_evaluate_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="upt-train evaluate",
        description=EVALUATE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", type=Path, help="a finished run folder")
    parser.add_argument("--store", help="field store URL (default: the run's own store)")
    parser.add_argument(
        "--split", default="test", choices=("train", "valid", "test"), help="default: test"
    )
    parser.add_argument("--out", type=Path, help="write here instead of RUN_DIR/evaluations/")
    return parser.parse_args(argv)


def resolve_run(arguments: argparse.Namespace) -> tuple[RunConfig, Path]:
    """The config and run folder, from a config name or from the run being resumed."""
    if arguments.resume is not None:
        overrides = arguments.overrides
        if arguments.config is not None:
            if "=" not in arguments.config:
                raise ConfigError("with --resume, give overrides only: the run's config is used")
            overrides = [arguments.config, *overrides]
        return load_run_config(arguments.resume, overrides), arguments.resume
    config = load_config(arguments.config, arguments.overrides)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return config, arguments.run_dir or Path(config.out_dir) / f"{config.name}-{stamp}"


def train_command(argv: list[str]) -> None:
    arguments = parse_train_arguments(argv)
    config, run_dir = resolve_run(arguments)
    result = run(config, run_dir, resume=arguments.resume is not None)
    if result is not None:
        print(format_summary(result.summary, run_dir))


def evaluate_command(argv: list[str]) -> None:
    arguments = parse_evaluate_arguments(argv)
    summary, folder = evaluate_run(
        arguments.run_dir, store_url=arguments.store, split=arguments.split, out_dir=arguments.out
    )
    print(format_summary(summary, folder))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = evaluate_command if argv[:1] == ["evaluate"] else train_command
    try:
        command(argv[1:] if command is evaluate_command else argv)
    except (
        ConfigError,
        UptDataError,
        CheckpointError,
        NonFiniteLossError,
        OSError,
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
