"""What a run measures about itself: peak memory.

Peak memory on the CPU is the process's resident-set high-water mark (`getrusage` ru_maxrss), so
it includes the interpreter and torch; run in a subprocess of its own (as the harness does), it
covers that run alone. tracemalloc would miss torch's allocations. On CUDA,
`torch.cuda.max_memory_allocated` is reported beside it.
"""

from __future__ import annotations

import resource
import sys

import torch


def peak_rss_mib() -> float:
    """This process's peak resident set so far, MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def peak_cuda_mib(device: torch.device) -> float | None:
    """Peak memory torch allocated on `device` since the last reset, MiB; None off CUDA."""
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**20


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
