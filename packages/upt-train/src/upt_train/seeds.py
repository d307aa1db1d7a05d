"""Derived seeds: one integer for every (purpose, step, ...) tuple, from NumPy's SeedSequence.

Every random choice of a run (the batch order of an epoch, the points of a sample, the inverse
losses' query points) takes its seed from `derive_seed(base, purpose, ...)`, so it is a pure
function of the run's seed and where it happens, independent of worker processes and resumes.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch


def derive_seed(base: int, purpose: str, *parts: int) -> int:
    """A 63-bit seed for `purpose` (e.g. "epoch") at `parts` (e.g. the epoch number)."""
    if base < 0 or any(part < 0 for part in parts):
        raise ValueError(f"seeds and their parts must be >= 0; got {base}, {parts}")
    entropy = [base, zlib.crc32(purpose.encode()), *parts]
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0] >> 1)


@torch.compiler.disable
def generator(base: int, purpose: str, *parts: int) -> torch.Generator:
    """A CPU torch.Generator seeded with `derive_seed(base, purpose, *parts)` (outside any
    compiled graph: NumPy's SeedSequence does not trace)."""
    return torch.Generator().manual_seed(derive_seed(base, purpose, *parts))
