"""Dataset read throughput against reading the same bytes from a numpy memmap.

    uv run python packages/upt-data/benchmarks/read_throughput.py [STORE] [--samples N]

Three numbers, each measured in this one run so that their ratios hold on a noisy machine:
whole train trajectories through `FieldStore` (zarr, Blosc/zstd) and through a memmap of the same
float32 array; and random next-step samples through `NextStepDataset` (cold: every trajectory
decompressed on first touch) against the same samples sliced from the memmap.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from upt_data import FieldStore, NextStepDataset


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", nargs="?", default="data/burgers.zarr")
    parser.add_argument("--samples", type=int, default=2000)
    arguments = parser.parse_args()
    torch.set_num_threads(1)

    store = FieldStore.open(arguments.store)
    count = store.num_trajectories("train")
    fields = store.read_trajectories("train", slice(None))
    megabytes = fields.nbytes / 2**20
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.npy"
        np.save(path, fields)
        memmap = np.load(path, mmap_mode="r")
        np.asarray(memmap).sum()  # both sources warm in the page cache

        zarr_seconds = timed(
            lambda: FieldStore.open(arguments.store).read_trajectories("train", slice(None))
        )
        memmap_seconds = timed(lambda: np.array(memmap))

        rng = np.random.default_rng(0)
        dataset = NextStepDataset(arguments.store, "train", normalize=False)
        indices = rng.integers(0, len(dataset), arguments.samples)
        pairs = dataset.pairs_per_trajectory
        dataset_seconds = timed(lambda: [dataset[int(i)] for i in indices])

        def memmap_samples() -> None:
            for i in indices:
                trajectory, t = divmod(int(i), pairs)
                torch.from_numpy(np.array(memmap[trajectory, t]))
                torch.from_numpy(np.array(memmap[trajectory, t + 1]))

        memmap_sample_seconds = timed(memmap_samples)

    print(f"store {arguments.store}: {count} train trajectories, {megabytes:.1f} MiB float32")
    print(
        f"whole split   zarr {megabytes / zarr_seconds:8.1f} MiB/s   "
        f"memmap {megabytes / memmap_seconds:8.1f} MiB/s   "
        f"zarr/memmap time {zarr_seconds / memmap_seconds:.1f}x"
    )
    print(
        f"{arguments.samples} samples  dataset {arguments.samples / dataset_seconds:8.0f} /s   "
        f"memmap {arguments.samples / memmap_sample_seconds:8.0f} /s   "
        f"dataset/memmap time {dataset_seconds / memmap_sample_seconds:.1f}x"
    )


if __name__ == "__main__":
    main()
