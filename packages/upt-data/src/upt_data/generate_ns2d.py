"""Generating a 2D Navier-Stokes store: Gaussian random initial vorticity, the pseudo-spectral
solver, the grid field and one irregular point cloud per trajectory with exact values."""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from upt_data.errors import InvalidArgumentError
from upt_data.navier_stokes import (
    evaluate_series,
    gaussian_random_field,
    grid_values,
    solve_navier_stokes,
)
from upt_data.point_clouds import CloudSpec, sample_cloud
from upt_data.store import SPLITS, FieldStore, is_local, local_path
from upt_data.writer import StoreWriter

GENERATOR_VERSION = "1"
EQUATION = (
    "w_t + u.grad w = nu lap w + f, u = (psi_y, -psi_x), -lap psi = w, f = 0.1 (sin 2pi(x+y) + "
    "cos 2pi(x+y)), (x, y) in [0, 1)^2 periodic (FNO benchmark, Li et al. 2021)"
)
# The internal grid for each viscosity: fine enough to resolve it (FNO generated nu = 1e-4 and
# 1e-5 on 256^2); the stored field is the internal one truncated to the stored grid's modes.
INTERNAL_RESOLUTION = {1e-3: 128, 1e-4: 256, 1e-5: 256}


@dataclass(frozen=True)
class NavierStokesSpec:
    """What a generated 2D Navier-Stokes store holds: vorticity every `frame_interval` time
    units, `num_frames` frames from t = 0, on a `resolution`^2 grid and on one cloud per
    trajectory. Each split draws from its own seeded stream."""

    viscosity: float = 1e-3
    resolution: int = 64
    num_frames: int = 20
    frame_interval: float = 1.0
    num_train: int = 64
    num_valid: int = 8
    num_test: int = 16
    seed: int = 0
    solver_batch: int = 16
    clouds: CloudSpec = field(default_factory=CloudSpec)

    def __post_init__(self) -> None:
        if self.viscosity not in INTERNAL_RESOLUTION:
            raise InvalidArgumentError(
                f"viscosity must be one of {sorted(INTERNAL_RESOLUTION)}, found {self.viscosity}"
            )
        if self.resolution not in (16, 32, 64, 128, 256):
            raise InvalidArgumentError(
                f"resolution must be 16, 32, 64, 128 or 256, found {self.resolution}"
            )
        if not 2 <= self.num_frames <= 10_000 or not self.frame_interval > 0:
            raise InvalidArgumentError(
                f"need 2 <= num_frames <= 10000 and frame_interval > 0, found {self.num_frames}, "
                f"{self.frame_interval}"
            )
        counts = (self.num_train, self.num_valid, self.num_test)
        if self.num_train < 1 or min(counts) < 0 or sum(counts) > 100_000:
            raise InvalidArgumentError(
                f"need num_train >= 1, no negative counts and at most 100000 in all, found {counts}"
            )
        if self.seed < 0 or self.solver_batch < 1:
            raise InvalidArgumentError("seed must be >= 0 and solver_batch >= 1")

    @property
    def internal_resolution(self) -> int:
        return max(INTERNAL_RESOLUTION[self.viscosity], self.resolution)

    @property
    def split_sizes(self) -> dict[str, int]:
        return dict(zip(SPLITS, (self.num_train, self.num_valid, self.num_test), strict=True))

    @property
    def num_bytes(self) -> int:
        """Fields before compression: the grid plus the largest possible clouds (float32)."""
        points = self.resolution**2 + self.clouds.max_points
        return 4 * sum(self.split_sizes.values()) * self.num_frames * points


def grid_nodes(resolution: int) -> np.ndarray:
    """The stored grid's points (j / N, l / N) in row-major order, (N^2, 2)."""
    x = np.arange(resolution) / resolution
    return np.stack(np.meshgrid(x, x, indexing="ij"), axis=-1).reshape(-1, 2)


def generate_ns2d_store(url: str, spec: NavierStokesSpec, progress: bool = True) -> FieldStore:
    """Solve `spec`'s trajectories and write them (grid and clouds) to a new store at `url`."""
    if is_local(url):
        folder = local_path(url).resolve().parent
        while not folder.exists():
            folder = folder.parent
        if spec.num_bytes > shutil.disk_usage(folder).free:
            raise InvalidArgumentError(
                f"the store would hold {spec.num_bytes / 2**30:.1f} GiB (uncompressed); "
                f"{folder} has less free"
            )
    times = spec.frame_interval * np.arange(spec.num_frames)
    attrs = {
        "equation": EQUATION,
        "viscosity": spec.viscosity,
        "initial_conditions": "gaussian-random-field N(0, 7^1.5 (-lap + 49)^-2.5)",
        "generator": "upt_data.generate_ns2d_store",
        "generator_version": GENERATOR_VERSION,
        "seed": spec.seed,
        "spec": asdict(spec),
        "scheme": {
            "name": "pseudo-spectral IFRK4",
            "internal_resolution": spec.internal_resolution,
        },
        "values": "vorticity: the band-limited series of the stored grid's modes, exact anywhere",
        "periodic": True,
        "translation_invariant": False,
    }
    total = sum(spec.split_sizes.values())
    description = f"Navier-Stokes nu={spec.viscosity}"
    with (
        StoreWriter(url, grid_nodes(spec.resolution), times, spec.split_sizes, 1, attrs) as writer,
        tqdm(total=total, unit="traj", desc=description, disable=not progress) as bar,
    ):
        for split_index, (split, count) in enumerate(spec.split_sizes.items()):
            stream = np.random.SeedSequence([spec.seed, split_index]).generate_state(1, np.uint64)
            generator = torch.Generator().manual_seed(int(stream[0] >> 1))
            clouds = [sample_cloud(spec.clouds, generator) for _ in range(count)]
            writer.add_clouds(split, [len(c) for c in clouds], spec.num_frames, 1)
            for start in range(0, count, spec.solver_batch):
                size = min(spec.solver_batch, count - start)
                initial = gaussian_random_field(size, spec.internal_resolution, generator)
                coefficients = solve_navier_stokes(
                    initial,
                    spec.viscosity,
                    torch.from_numpy(times),
                    resolution=spec.resolution,
                )
                fields = grid_values(coefficients).reshape(size, spec.num_frames, -1, 1)
                writer.write(split, start, fields.numpy())
                for offset in range(size):
                    cloud = clouds[start + offset]
                    values = evaluate_series(coefficients[offset], cloud)  # (time, n)
                    writer.write_cloud(
                        split, start + offset, cloud.numpy(), values.T[..., None].numpy()
                    )
                bar.update(size)
    return FieldStore.open(url)
