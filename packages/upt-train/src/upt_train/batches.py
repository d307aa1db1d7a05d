"""Which samples each optimizer step sees: a pure function of (seed, step, micro-step, rank).

Samples are drawn epoch by epoch, each epoch a fresh permutation seeded by (seed, epoch), so a
resumed run sees exactly the batches it would have seen, and the ranks of a torchrun job split
each global batch between them without overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class BatchSchedule:
    """A global batch split into `grad_accum_steps` micro-batches and `world_size` ranks."""

    num_samples: int
    batch_size: int
    grad_accum_steps: int
    world_size: int
    seed: int

    def __post_init__(self) -> None:
        micro = self.batch_size // self.grad_accum_steps
        if micro * self.grad_accum_steps != self.batch_size or micro % self.world_size:
            raise ValueError(
                f"training.batch_size ({self.batch_size}) must split evenly into "
                f"training.grad_accum_steps ({self.grad_accum_steps}) micro-batches, each "
                f"divisible by the number of processes ({self.world_size})"
            )

    @property
    def per_rank(self) -> int:
        return self.batch_size // self.grad_accum_steps // self.world_size

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.num_samples, generator=generator)

    def indices(self, step: int, micro: int, rank: int) -> list[int]:
        """The sample indices that `rank` trains on in micro-batch `micro` of step `step`."""
        micro_batch = self.batch_size // self.grad_accum_steps
        first = (step * self.grad_accum_steps + micro) * micro_batch + rank * self.per_rank
        positions = range(first, first + self.per_rank)
        orders: dict[int, torch.Tensor] = {}
        chosen = []
        for position in positions:
            epoch, offset = divmod(position, self.num_samples)
            if epoch not in orders:
                orders[epoch] = self._epoch_order(epoch)
            chosen.append(int(orders[epoch][offset]))
        return chosen
