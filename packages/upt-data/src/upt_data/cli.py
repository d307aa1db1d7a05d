"""`upt-data`: generate Burgers stores, inspect stores, import PDEBench files."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

import numpy as np

from upt_data.errors import InvalidArgumentError, UptDataError
from upt_data.generate import BurgersSpec, generate_burgers_store
from upt_data.generate_ns2d import NavierStokesSpec, generate_ns2d_store
from upt_data.pdebench import import_pdebench
from upt_data.point_clouds import CloudSpec
from upt_data.store import SPLITS, FieldStore


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="upt-data", description=__doc__)
    commands = main.add_subparsers(dest="command", required=True)

    generate = commands.add_parser(
        "generate",
        help="solve an equation into a new store",
        description="Defaults: burgers nu=0.01, 1024 points, 201 frames; ns2d nu=1e-3, a "
        "64 x 64 grid, 20 frames, clouds of 1000-3000 points.",
    )
    generate.add_argument("equation", choices=["burgers", "ns2d"])
    generate.add_argument("--out", required=True, help="local path or fsspec URL of the store")
    for flag, kind in [
        ("--viscosity", float),
        ("--resolution", int),
        ("--num-frames", int),
        ("--num-train", int),
        ("--num-valid", int),
        ("--num-test", int),
        ("--seed", int),
        ("--min-points", int),
        ("--max-points", int),
    ]:
        generate.add_argument(flag, type=kind, help="see the defaults above")

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
    if store.has_clouds:
        for split in SPLITS:
            sizes = np.diff(store.cloud_offsets(split)) if store.num_trajectories(split) else []
            lines.append(
                f"{split:<10} point clouds: {len(sizes)}, "
                + (f"{min(sizes)}-{max(sizes)} points each" if len(sizes) else "none")
            )
    lines += [f"{key:<10} {json.dumps(value)}" for key, value in sorted(store.attrs.items())]
    return "\n".join(lines)


def generate(arguments: argparse.Namespace) -> FieldStore:
    """The store the `generate` arguments ask for; flags left out keep the spec's defaults."""
    keys = ("viscosity", "resolution", "num_frames", "num_train", "num_valid", "num_test", "seed")
    given = {key: getattr(arguments, key) for key in keys if getattr(arguments, key) is not None}
    points = {
        key: getattr(arguments, key)
        for key in ("min_points", "max_points")
        if getattr(arguments, key) is not None
    }
    if arguments.equation == "burgers":
        if points:
            raise InvalidArgumentError("--min-points and --max-points are for ns2d point clouds")
        return generate_burgers_store(arguments.out, BurgersSpec(**given))
    clouds = dataclasses.replace(CloudSpec(), **points)
    return generate_ns2d_store(arguments.out, NavierStokesSpec(**given, clouds=clouds))


def run(arguments: argparse.Namespace) -> None:
    if arguments.command == "generate":
        print(describe(generate(arguments)))
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
    except (UptDataError, OSError) as error:
        print(f"upt-data: error: {error}", file=sys.stderr)
        return 2
    return 0
