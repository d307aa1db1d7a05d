"""One optimizer step for any objective: autocast, gradient accumulation, clipping, the update.

An objective is an nn.Module whose forward(micro_batch) returns its loss terms as scalar tensors,
"total" among them (UPT's `UPTObjective`, the harness's FNO objective). `train_step` never reads
a value back to the host, so a GPU step does not wait for the previous one; `NonFiniteGuard`
remembers on the device the first step that went non-finite and reads it only when asked.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from upt_train.config import TrainingConfig


class NonFiniteLossError(RuntimeError):
    """The loss or the gradient became NaN or Inf."""


@dataclass
class StepResult:
    """The loss terms (mean over micro-batches) and the gradient norm before clipping, detached,
    on the device."""

    losses: dict[str, Tensor]
    grad_norm: Tensor


def compile_objective(objective: nn.Module, settings: TrainingConfig) -> nn.Module:
    """The objective through torch.compile in `training.compile_mode` under `training.compile`,
    else as it is."""
    if not settings.compile:
        return objective
    return torch.compile(objective, mode=settings.compile_mode)


def train_step(
    objective: nn.Module,
    optimizer: torch.optim.Optimizer,
    micro_batches: Sequence[Any],
    *,
    grad_clip: float | None = None,
    autocast_dtype: torch.dtype | None = None,
) -> StepResult:
    """Forward and backward over `micro_batches` (gradients accumulate, each weighted 1 / count),
    clip the gradient norm to `grad_clip` (None: no clipping), and step the optimizer.

    Under DistributedDataParallel, gradients are all-reduced once, after the last micro-batch.
    `autocast_dtype` (e.g. torch.bfloat16) runs the forward under torch.autocast.
    """
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    device_type = parameters[0].device.type
    count = len(micro_batches)
    optimizer.zero_grad(set_to_none=True)
    totals: dict[str, Tensor] = {}
    for index, batch in enumerate(micro_batches):
        accumulate = index < count - 1 and isinstance(objective, DistributedDataParallel)
        with objective.no_sync() if accumulate else contextlib.nullcontext():
            with torch.autocast(device_type, autocast_dtype, enabled=autocast_dtype is not None):
                losses = objective(batch)
            (losses["total"] / count).backward()
        for key, value in losses.items():
            totals[key] = totals.get(key, 0.0) + value.detach().float() / count
    max_norm = math.inf if grad_clip is None else grad_clip
    grad_norm = torch.nn.utils.clip_grad_norm_(parameters, max_norm)
    optimizer.step()
    return StepResult(totals, grad_norm.detach())


class NonFiniteGuard:
    """Tracks, without host synchronisation, the first step whose loss or gradient norm was not
    finite; `check` reads it back (one sync) and raises NonFiniteLossError."""

    def __init__(self, device: torch.device) -> None:
        self.first = torch.full((), -1, dtype=torch.long, device=device)
        self.what = torch.zeros((), dtype=torch.long, device=device)

    def update(self, step: int, result: StepResult) -> None:
        loss_bad = ~torch.isfinite(result.losses["total"])
        grad_bad = ~torch.isfinite(result.grad_norm)
        new = (loss_bad | grad_bad) & (self.first < 0)
        self.first = torch.where(new, step, self.first)
        self.what = torch.where(new, 1 + loss_bad.long(), self.what)

    def check(self, advice: str = "") -> None:
        """Raise if some step so far went non-finite; `advice` ends the message. Under DDP the
        gradients are all-reduced, so every rank sees the same non-finite gradient norm."""
        first, what = int(self.first), int(self.what)
        if first < 0:
            return
        term = "loss" if what == 2 else "gradient"
        raise NonFiniteLossError(f"the {term} became non-finite at step {first}{advice}")
