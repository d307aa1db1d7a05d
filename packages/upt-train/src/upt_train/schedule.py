"""Learning rate: linear warm-up, then cosine decay to a floor. A pure function of the step, so
resuming needs nothing but the step number."""

from __future__ import annotations

import math

import torch

from upt_train.config import TrainingConfig


def learning_rate(
    step: int, *, base_lr: float, warmup_steps: int, max_steps: int, min_lr: float
) -> float:
    """The learning rate for optimizer step `step` (0-based)."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    decay_steps = max(max_steps - warmup_steps, 1)
    progress = min((step - warmup_steps) / decay_steps, 1.0)
    return min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * progress))


def set_learning_rate(
    optimizer: torch.optim.Optimizer, step: int, settings: TrainingConfig
) -> float:
    """Give every parameter group the scheduled rate of step `step`; return that rate."""
    lr = learning_rate(
        step,
        base_lr=settings.lr,
        warmup_steps=settings.warmup_steps,
        max_steps=settings.max_steps,
        min_lr=settings.min_lr,
    )
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr
