"""Burgers generation throughput and dataset read throughput (upt-data), on one thread.

Throughput = work / time: generation is 4 trajectories of the default store (nu = 0.01, 1024
points, 201 frames); reads are the whole train split of a 16-trajectory store through zarr, and
256 random next-step samples through NextStepDataset, each from a freshly opened store.
"""

import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from upt_data import BurgersSpec, FieldStore, NextStepDataset, generate_burgers_store

GENERATED = BurgersSpec(
    viscosity=0.01, resolution=1024, num_train=4, num_valid=0, num_test=0, solver_batch=4
)
READ = BurgersSpec(
    viscosity=0.01, resolution=1024, num_train=16, num_valid=0, num_test=0, solver_batch=16
)
SAMPLES = 256


class Generation:
    number = 1
    repeat = (3, 5, 20.0)
    warmup_time = 0
    timeout = 300

    def setup(self):
        torch.set_num_threads(1)
        self.folder = Path(tempfile.mkdtemp())
        self.count = 0

    def teardown(self):
        shutil.rmtree(self.folder, ignore_errors=True)

    def time_generate_burgers(self):
        """4 trajectories, nu = 0.01, 1024 points, 201 frames, solved and written to zarr."""
        self.count += 1
        generate_burgers_store(str(self.folder / f"{self.count}.zarr"), GENERATED, progress=False)


class Reading:
    number = 1
    repeat = (5, 10, 20.0)
    timeout = 300

    def setup_cache(self):
        path = Path(tempfile.mkdtemp()) / "read.zarr"
        torch.set_num_threads(1)
        generate_burgers_store(str(path), READ, progress=False)
        return str(path)

    def setup(self, store):
        torch.set_num_threads(1)
        self.indices = np.random.default_rng(0).integers(0, 16 * 200, SAMPLES)

    def time_read_train_split(self, store):
        """The whole train split (16 x 201 x 1024 float32, 12.6 MiB) through FieldStore."""
        FieldStore.open(store).read_trajectories("train", slice(None))

    def time_next_step_samples(self, store):
        """256 random next-step samples through a fresh NextStepDataset (cold store cache)."""
        dataset = NextStepDataset(store, "train")
        for index in self.indices:
            dataset[int(index)]
