"""`upt-data`: generate Burgers stores, inspect stores, import PDEBench files."""

from __future__ import annotations

import argparse
import json
import sys

from upt_data.errors import UptDataError
from upt_data.generate import BurgersSpec, generate_burgers_store
from upt_data.pdebench import import_pdebench
from upt_data.store import SPLITS, FieldStore


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="upt-data", description=__doc__)
    commands = main.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="solve an equation into a new store")
    generate.add_argument("equation", choices=["burgers"])
    generate.add_argument("--out", required=True, help="local path or fsspec URL of the store")
    defaults = BurgersSpec()
    for flag, value in [
        ("--viscosity", defaults.viscosity),
        ("--resolution", defaults.resolution),
        ("--num-train", defaults.num_train),
        ("--num-valid", defaults.num_valid),
        ("--num-test", defaults.num_test),
        ("--seed", defaults.seed),
    ]:
        generate.add_argument(flag, type=type(value), default=value, help=f"default {value}")

    info = commands.add_parser("info", help="print a store's layout, attributes and statistics")
    info.add_argument("store")
    info.add_argument(
        "--check", action="store_true", help="also read every chunk and check it is finite"
    )

    importer = commands.add_parser("import", help="convert another format into a store")
    importer.add_argument("format", choices=["pdebench"])
    importer.add_argument("file", help="a PDEBench 1D Burgers .hdf5 file")
    importer.add_argument("--out", required=True)
    importer.add_argument("--viscosity", type=float, help="nu (read from the file name if absent)")
    importer.add_argument("--valid-fraction", type=float, default=0.1)
    importer.add_argument("--test-fraction", type=float, default=0.1)
    return main


def describe(store: FieldStore) -> str:
    lines = [f"store      {store.url}"]
    lines += [
        f"{split:<10} fields {store.fields(split).shape} {store.fields(split).dtype} "
        f"chunks {store.fields(split).chunks}"
        for split in SPLITS
    ]
    lines.append(
        f"coords     {store.coords.shape}, "
        f"from {store.coords.min():.4g} to {store.coords.max():.4g}"
    )
    lines.append(
        f"times      {store.times.shape}, from {store.times[0]:.4g} to {store.times[-1]:.4g}"
    )
    lines += [f"{key:<10} {json.dumps(value)}" for key, value in sorted(store.attrs.items())]
    return "\n".join(lines)


def run(arguments: argparse.Namespace) -> None:
    if arguments.command == "generate":
        spec = BurgersSpec(
            viscosity=arguments.viscosity,
            resolution=arguments.resolution,
            num_train=arguments.num_train,
            num_valid=arguments.num_valid,
            num_test=arguments.num_test,
            seed=arguments.seed,
        )
        print(describe(generate_burgers_store(arguments.out, spec)))
    elif arguments.command == "info":
        store = FieldStore.open(arguments.store)
        print(describe(store))
        if arguments.check:
            print(f"check      {store.check()} trajectories read back, all finite")
    else:
        store = import_pdebench(
            arguments.file,
            arguments.out,
            viscosity=arguments.viscosity,
            valid_fraction=arguments.valid_fraction,
            test_fraction=arguments.test_fraction,
        )
        print(describe(store))


def main(argv: list[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    try:
        run(arguments)
    except UptDataError as error:
        print(f"upt-data: error: {error}", file=sys.stderr)
        return 2
    return 0
