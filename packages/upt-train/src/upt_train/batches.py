"""Which samples each optimizer step sees, and how they become a `Batch`.

The order is a pure function of (seed, step, micro-step, rank): samples are drawn epoch by epoch,
each epoch a fresh permutation, so a resumed run sees exactly the batches it would have seen, the
ranks of a torchrun job split each global batch between them without overlap, and the number of
DataLoader workers never changes what is sampled (each sample's random point subset comes from
a seed that travels with its index).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset, Sampler

from upt_train.seeds import derive_seed, generator


@dataclass
class Batch:
    """A batch of training samples, on one device.

    fields (B, N, C) at coords (B, N, d): the input frame; mask (B, N) bool (True = real point)
    or None when every cloud is complete. query_coords (B, Q, d), query_mask (B, Q) or None, and
    target (B, K, Q, C): the next K frames at the query points. cond (B, S): scalars for a
    conditioned model (ignored by an unconditioned one), or None. `seed` drives the objective's
    own sampling (the inverse losses' query points). When the query points are the input points,
    query_coords and query_mask are coords and mask themselves (the same tensors, on any device),
    so the model's shared geometry sees one point set.
    """

    fields: Tensor
    coords: Tensor
    query_coords: Tensor
    target: Tensor
    mask: Tensor | None = None
    query_mask: Tensor | None = None
    cond: Tensor | None = None
    seed: int = 0

    def to(self, device: torch.device) -> Batch:
        """The batch on `device`; a tensor held by two fields is moved once, for both."""
        tensors = {
            f.name: value
            for f in dataclasses.fields(self)
            if isinstance(value := getattr(self, f.name), Tensor)
        }
        moved: dict[int, Tensor] = {}
        for value in tensors.values():
            if id(value) not in moved:
                moved[id(value)] = value.to(device, non_blocking=True)
        return dataclasses.replace(
            self, **{name: moved[id(value)] for name, value in tensors.items()}
        )


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

    def _epoch_order(self, epoch: int) -> Tensor:
        return torch.randperm(self.num_samples, generator=generator(self.seed, "epoch", epoch))

    def indices(self, step: int, micro: int, rank: int) -> list[int]:
        """The sample indices that `rank` trains on in micro-batch `micro` of step `step`."""
        micro_batch = self.batch_size // self.grad_accum_steps
        first = (step * self.grad_accum_steps + micro) * micro_batch + rank * self.per_rank
        orders: dict[int, Tensor] = {}
        chosen = []
        for position in range(first, first + self.per_rank):
            epoch, offset = divmod(position, self.num_samples)
            if epoch not in orders:
                orders[epoch] = self._epoch_order(epoch)
            chosen.append(int(orders[epoch][offset]))
        return chosen


class ScheduledBatches(Sampler[list[tuple[int, int]]]):
    """A DataLoader batch sampler: for steps [start, stop) and each micro-step, this rank's
    (sample index, point seed) pairs. Point seeds derive from `point_seed` and the position."""

    def __init__(
        self, schedule: BatchSchedule, rank: int, start: int, stop: int, point_seed: int
    ) -> None:
        self.schedule, self.rank = schedule, rank
        self.start, self.stop, self.point_seed = start, stop, point_seed

    def __len__(self) -> int:
        return (self.stop - self.start) * self.schedule.grad_accum_steps

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start, self.stop):
            for micro in range(self.schedule.grad_accum_steps):
                indices = self.schedule.indices(step, micro, self.rank)
                yield [
                    (index, derive_seed(self.point_seed, "points", step, micro, self.rank, slot))
                    for slot, index in enumerate(indices)
                ]


class SeededSamples(Dataset):
    """Wraps a dataset with `sample(index, generator)`: item (index, seed) draws with that seed."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        index, seed = key
        return self.dataset.sample(index, torch.Generator().manual_seed(seed))


def _padded(tensors: Sequence[Tensor]) -> tuple[Tensor, Tensor | None]:
    """Stack point sets (n_i, ...) into (B, max n, ...), with a mask when their sizes differ."""
    sizes = [len(t) for t in tensors]
    if len(set(sizes)) == 1:
        return torch.stack(list(tensors)), None
    mask = torch.arange(max(sizes))[None, :] < torch.tensor(sizes)[:, None]
    return pad_sequence(list(tensors), batch_first=True), mask


def _same_points(
    coords: Tensor, mask: Tensor | None, query_coords: Tensor, query_mask: Tensor | None
) -> bool:
    if (mask is None) != (query_mask is None):
        return False
    masks_equal = mask is None or torch.equal(mask, query_mask)
    return masks_equal and torch.equal(coords, query_coords)


def conditioning(dt: Tensor, viscosity: Tensor) -> Tensor:
    """The scalars a conditioned model sees: (step size, viscosity), (B, 2)."""
    return torch.stack([dt.float(), viscosity.float()], dim=-1)


def collate(items: Sequence[dict[str, Any]]) -> Batch:
    """Next-step dataset items -> a Batch; point clouds of different sizes are padded."""
    fields, mask = _padded([item["fields_orig"] for item in items])
    coords, _ = _padded([item["coords"] for item in items])
    query_coords, query_mask = _padded([item["query_coords"] for item in items])
    if _same_points(coords, mask, query_coords, query_mask):
        query_coords, query_mask = coords, mask
    targets = [item["target"].transpose(0, 1) for item in items]  # (q, K, C) per item
    target, _ = _padded(targets)
    dt, viscosity = (
        torch.tensor([item["meta"][key] for item in items]) for key in ("dt", "viscosity")
    )
    return Batch(
        fields=fields,
        coords=coords,
        query_coords=query_coords,
        target=target.transpose(1, 2),
        mask=mask,
        query_mask=query_mask,
        cond=conditioning(dt, viscosity),
    )
