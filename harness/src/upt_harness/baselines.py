"""Persistence, u(t + 1) = u(t): the floor a one-step model must beat, scored like the entries."""

from __future__ import annotations

import torch
from einops import repeat

from upt_train.config import RunConfig
from upt_train.data import TrainingData
from upt_train.metrics import correlation_per_step, correlation_time, nrmse_per_step


def persistence(config: RunConfig) -> dict[str, float | int | None]:
    """One-step nRMSE of predicting each frame by the one before it, and the rollout that holds
    the first frame, on the test split at the training grid and time stride."""
    test = TrainingData(config, rank=0, world_size=1).test_trajectories(torch.device("cpu"))
    frames = test.denormalize(test.fields[:, :, test.model_points])
    truth = frames[:, 1:]
    held = repeat(frames[:, 0], "b n c -> b t n c", t=truth.shape[1])
    correlation = correlation_per_step(held, truth)
    return {
        "one_step_nrmse": nrmse_per_step(frames[:, :-1], truth).mean().item(),
        "autoregressive_rollout_nrmse": nrmse_per_step(held, truth).mean().item(),
        "autoregressive_correlation_steps": correlation_time(
            correlation, config.eval.correlation_threshold
        ),
        "rollout_steps": truth.shape[1],
    }
