"""Process-group set-up for torchrun: DistributedDataParallel with gloo on CPU, nccl on GPU.

A plain `upt-train` call is a world of one; under `torchrun --nproc-per-node N` every process
reads RANK/WORLD_SIZE/LOCAL_RANK from the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor


@dataclass(frozen=True)
class Distributed:
    """Where this process sits in the job, and the device it trains on."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls, device: str) -> Distributed:
        """Join the torchrun job if there is one; `device` is 'auto', 'cpu' or 'cuda'."""
        use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
        if use_cuda and not torch.cuda.is_available():
            raise RuntimeError("device: cuda was asked for, but torch sees no CUDA device")
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if use_cuda:
            torch.cuda.set_device(local_rank)
        if world_size > 1 and not dist.is_initialized():
            dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        chosen = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
        return cls(rank=rank, world_size=world_size, device=chosen)

    def mean(self, values: Tensor) -> Tensor:
        """The mean of `values` over all processes (itself in a world of one)."""
        if self.world_size == 1:
            return values
        values = values.clone()
        dist.all_reduce(values)
        return values / self.world_size

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

    def close(self) -> None:
        if self.world_size > 1 and dist.is_initialized():
            dist.destroy_process_group()
