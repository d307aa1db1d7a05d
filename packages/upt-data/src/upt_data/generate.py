"""Generating a Burgers field store: draw initial conditions, solve, write split by split."""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm import tqdm

from upt_data.burgers import choose_scheme, effective_viscosity, solve_burgers
from upt_data.errors import InvalidArgumentError
from upt_data.initial_conditions import PDEBENCH_FAMILY, PDEBenchSineFamily
from upt_data.store import SPLITS, FieldStore, is_local, local_path
from upt_data.writer import StoreWriter

GENERATOR_VERSION = "1"
MAX_RESOLUTION = 2**16
MAX_FRAMES = 100_000
MAX_TRAJECTORIES = 1_000_000
EQUATION = "u_t + (u^2/2)_x = (nu/pi) u_xx, x in [0, 1) periodic (PDEBench Burgers)"


@dataclass(frozen=True)
class BurgersSpec:
    """What a generated Burgers store holds. Each split draws from its own seeded stream."""

    viscosity: float = 0.01
    resolution: int = 1024
    num_frames: int = 201
    final_time: float = 2.0
    num_train: int = 64
    num_valid: int = 8
    num_test: int = 16
    seed: int = 0
    solver_batch: int = 16

    def __post_init__(self) -> None:
        if not 0.001 <= self.viscosity <= 4.0:
            raise InvalidArgumentError(f"viscosity must lie in [0.001, 4], found {self.viscosity}")
        if not 8 <= self.resolution <= MAX_RESOLUTION or self.resolution & (self.resolution - 1):
            raise InvalidArgumentError(
                f"resolution must be a power of two in [8, {MAX_RESOLUTION}], found "
                f"{self.resolution}"
            )
        if self.seed < 0:
            raise InvalidArgumentError(f"seed must be >= 0, found {self.seed}")
        if self.num_frames > MAX_FRAMES:
            raise InvalidArgumentError(
                f"num_frames must be at most {MAX_FRAMES}, found {self.num_frames}"
            )
        counts = {
            "num_train": self.num_train,
            "num_valid": self.num_valid,
            "num_test": self.num_test,
        }
        if self.num_train < 1 or min(counts.values()) < 0:
            raise InvalidArgumentError(
                f"need num_train >= 1 and no negative counts, found {counts}"
            )
        if sum(counts.values()) > MAX_TRAJECTORIES:
            raise InvalidArgumentError(
                f"at most {MAX_TRAJECTORIES} trajectories in all, found {sum(counts.values())}"
            )
        if self.num_frames < 2 or self.final_time <= 0 or self.solver_batch < 1:
            raise InvalidArgumentError(
                "need num_frames >= 2, final_time > 0 and solver_batch >= 1; found "
                f"{self.num_frames}, {self.final_time}, {self.solver_batch}"
            )

    @property
    def num_bytes(self) -> int:
        """The size of the store's fields before compression (float32)."""
        return 4 * sum(self.split_sizes.values()) * self.num_frames * self.resolution

    @property
    def split_sizes(self) -> dict[str, int]:
        return dict(zip(SPLITS, (self.num_train, self.num_valid, self.num_test), strict=True))


def check_free_space(url: str, num_bytes: int) -> None:
    """Refuse a local store that would not fit on its disk, uncompressed, before any work."""
    if not is_local(url):
        return
    folder = local_path(url).resolve().parent
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if num_bytes > free:
        raise InvalidArgumentError(
            f"the store would hold {num_bytes / 2**30:.1f} GiB of fields (uncompressed) but "
            f"{folder} has {free / 2**30:.1f} GiB free; ask for fewer trajectories or points"
        )


def generate_burgers_store(url: str, spec: BurgersSpec, progress: bool = True) -> FieldStore:
    """Solve `spec`'s trajectories and write them to a new store at `url`; return it opened."""
    check_free_space(url, spec.num_bytes)
    coords = (np.arange(spec.resolution, dtype=np.float64)[:, None] + 0.5) / spec.resolution
    times = np.linspace(0.0, spec.final_time, spec.num_frames)
    scheme = choose_scheme(spec.viscosity, spec.resolution, 2.0)
    attrs = {
        "equation": EQUATION,
        "viscosity": spec.viscosity,
        "effective_viscosity": effective_viscosity(spec.viscosity),
        "initial_conditions": PDEBENCH_FAMILY,
        "generator": "upt_data.generate_burgers_store",
        "generator_version": GENERATOR_VERSION,
        "seed": spec.seed,
        "spec": asdict(spec),
        "scheme": {"name": scheme.scheme, "internal_resolution": scheme.internal_resolution},
        "values": "cell averages over [j, j + 1) / resolution; coords are the cell centres",
        "periodic": True,
        "translation_invariant": True,
    }
    total = sum(spec.split_sizes.values())
    with (
        StoreWriter(url, coords, times, spec.split_sizes, 1, attrs) as writer,
        tqdm(
            total=total, unit="traj", desc=f"Burgers nu={spec.viscosity}", disable=not progress
        ) as bar,
    ):
        for split_index, (split, count) in enumerate(spec.split_sizes.items()):
            rng = np.random.default_rng([spec.seed, split_index])
            for start in range(0, count, spec.solver_batch):
                size = min(spec.solver_batch, count - start)
                initial = PDEBenchSineFamily.sample(size, rng)
                solution = solve_burgers(
                    initial, spec.viscosity, spec.resolution, torch.from_numpy(times)
                )
                writer.write(split, start, solution.numpy()[..., None])
                bar.update(size)
    return FieldStore.open(url)
