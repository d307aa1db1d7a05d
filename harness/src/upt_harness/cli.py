"""`upt-harness compare burgers [--out DIR] [--quick] ...`: the side-by-side comparison;
`upt-harness adversary`: the reliability cases."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

from upt_data import UptDataError
from upt_harness.compare import Settings, compare
from upt_train import ConfigError

WORKLOADS = {"burgers": "burgers", "ns2d": "ns2d"}

DESCRIPTION = """\
Train the golden config, the inverse-loss config, an ablation over lambda_inv_enc and
lambda_inv_dec in {0, 0.1, 0.5, 1.0}, and peers (neuraloperator's FNO) on the same store with the
same seeds; first with equal step budgets, then with equal wall-clock budgets. Writes
leaderboard.md, results.json and plots/ into --out.

Each run is a subprocess with its own peak-memory figure; runs go one at a time, each on
--threads threads, so their times compare.

  upt-harness compare burgers                      # the default: 3 seeds, the config's steps
  upt-harness compare burgers --seeds 2 --steps 200
  upt-harness compare burgers --quick --out /tmp/h # tiny store and budgets (CI)
"""


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="upt-harness",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    compare_parser = commands.add_parser("compare", help="run the comparison on a workload")
    compare_parser.add_argument("workload", choices=sorted(WORKLOADS))
    compare_parser.add_argument("--out", type=Path, help="output folder (default runs/harness-*)")
    compare_parser.add_argument(
        "--quick", action="store_true", help="tiny store, 3 steps, one seed: checks the path (CI)"
    )
    compare_parser.add_argument("--config", help="config name or .yaml path (default: workload's)")
    compare_parser.add_argument("--seeds", type=int, help="number of seeds (default 3; quick 1)")
    compare_parser.add_argument("--steps", type=int, help="step budget (default: the config's)")
    compare_parser.add_argument(
        "--seconds",
        type=float,
        help="wall-clock budget per run (default: the golden entry's mean training time)",
    )
    compare_parser.add_argument(
        "--ablation",
        choices=["tied", "grid", "none"],
        default="tied",
        help="tied: enc = dec in {0, .1, .5, 1}; grid: all 16 pairs (default tied)",
    )
    compare_parser.add_argument("--no-peers", action="store_true", help="UPT entries only")
    compare_parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    compare_parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    adversary_parser = commands.add_parser(
        "adversary",
        help="throw bad input, damaged data and interrupted work at the commands; count outcomes",
    )
    adversary_parser.add_argument("--out", type=Path, help="work folder (default runs/adversary-*)")
    arguments = parser.parse_args(argv)
    if arguments.command == "adversary":
        return arguments
    for name in ("seeds", "steps", "threads"):
        value = getattr(arguments, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be >= 1; got {value}")
    if arguments.seconds is not None and arguments.seconds <= 0:
        parser.error(f"--seconds must be positive; got {arguments.seconds}")
    return arguments


def settings_from(arguments: argparse.Namespace) -> Settings:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    seeds = arguments.seeds or (1 if arguments.quick else 3)
    return Settings(
        out=arguments.out or Path("runs") / f"harness-{arguments.workload}-{stamp}",
        workload=arguments.workload,
        config=arguments.config
        or (
            f"{WORKLOADS[arguments.workload]}_quick"
            if arguments.quick
            else WORKLOADS[arguments.workload]
        ),
        seeds=tuple(range(seeds)),
        steps=arguments.steps,
        seconds=arguments.seconds,
        ablation=arguments.ablation,
        peers=not arguments.no_peers,
        quick=arguments.quick,
        threads=arguments.threads,
        device=arguments.device,
    )


def adversary(out: Path | None) -> int:
    from upt_harness.adversary import report, run_all

    out = out or Path("runs") / f"adversary-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    outcomes = run_all(out.resolve())
    text = report(outcomes)
    (out / "adversary.md").write_text(text)
    print(text)
    return 0 if all(o.kind in ("clear error", "handled") for o in outcomes) else 1


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    if arguments.command == "adversary":
        return adversary(arguments.out)
    started = time.perf_counter()
    try:
        leaderboard = compare(settings_from(arguments))
    except (ConfigError, UptDataError) as error:
        print(f"upt-harness: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("upt-harness: interrupted", file=sys.stderr)
        return 130
    print(leaderboard.read_text())
    print(f"wrote {leaderboard} in {time.perf_counter() - started:.0f} s")
    return 0
