"""The FNO peer: neuraloperator's own `FNO`, trained on the same zarr next-step pairs as UPT.

Same store, same batch schedule (upt-train's `TrainingData`: the same samples in the same order
for a seed), same optimizer (AdamW), learning-rate schedule, gradient clipping and step budget, on
the same normalized fields; the FNO sees the full training grid in and predicts it one step ahead
(UPT's default already queries every training-grid point). It is evaluated on the same test split
with the same metric functions (`upt_train.metrics`), so its rows line up with UPT's. An FNO has
no latent rollout: its rollout feeds its output back in, as UPT's re-encode rollout does.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from upt_harness.measure import peak_cuda_mib, peak_rss_mib, reset_peak, synchronize
from upt_train.config import RunConfig
from upt_train.data import TrainingData, ensure_store
from upt_train.evaluate import TestTrajectories
from upt_train.metrics import correlation_per_step, correlation_time, nrmse, nrmse_per_step
from upt_train.schedule import set_learning_rate

INSTALL_HINT = "uv sync --group peers (or pip install 'upt-harness[peers]')"


class PeerUnavailableError(RuntimeError):
    """The peer's package is not installed."""


def build_fno(channels: int, n_modes: int, hidden_channels: int, n_layers: int) -> nn.Module:
    try:
        from neuralop.models import FNO
    except ImportError as error:
        raise PeerUnavailableError(f"neuraloperator is not installed: {INSTALL_HINT}") from error
    return FNO(
        n_modes=(n_modes,),
        hidden_channels=hidden_channels,
        in_channels=channels,
        out_channels=channels,
        n_layers=n_layers,
    )


def step_ahead(model: nn.Module, fields: Tensor) -> Tensor:
    """fields (B, N, C) on the grid -> the next frame (B, N, C)."""
    return rearrange(model(rearrange(fields, "b n c -> b c n")), "b c n -> b n c")


def full_grid(config: RunConfig) -> RunConfig:
    """The FNO needs every training-grid point as input and as query, in grid order."""
    data = dataclasses.replace(config.data, input_points=None, query_points=None)
    return dataclasses.replace(config, data=data)


def train_fno(
    model: nn.Module, config: RunConfig, data: TrainingData, device: torch.device
) -> list[tuple[float, float]]:
    """upt-train's recipe (AdamW, warm-up + cosine, clipping, accumulation) on the FNO."""
    settings = config.training
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    history, elapsed = [], 0.0
    model.train()
    for step in range(settings.max_steps):
        started = time.perf_counter()
        set_learning_rate(optimizer, step, settings)
        optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for micro in range(settings.grad_accum_steps):
            batch = data.train_batch(step, micro).to(device)
            loss = F.mse_loss(step_ahead(model, batch.fields), batch.target)
            (loss / settings.grad_accum_steps).backward()
            total += loss.item() / settings.grad_accum_steps
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()
        synchronize(device)
        elapsed += time.perf_counter() - started
        history.append((elapsed, total))
    return history


@torch.no_grad()
def predictions(
    model: nn.Module, test: TestTrajectories, batch_size: int, num_steps: int
) -> tuple[Tensor, Tensor]:
    """One-step predictions from every true frame (B, T-1, N, C) and an autoregressive rollout
    from the first frame (B, num_steps, N, C), normalized, at the training grid."""
    model.eval()
    frames = test.fields[:, :, test.model_points]
    inputs = rearrange(frames[:, :-1], "b t n c -> (b t) n c")
    one_step = torch.cat([step_ahead(model, part) for part in inputs.split(batch_size)])
    one_step = rearrange(one_step, "(b t) n c -> b t n c", b=len(frames))
    rollouts = []
    for initial in frames[:, 0].split(batch_size):
        states = [initial]
        for _ in range(num_steps):
            states.append(step_ahead(model, states[-1]))
        rollouts.append(torch.stack(states[1:], dim=1))
    return one_step, torch.cat(rollouts)


def run_fno(
    config: RunConfig, run_dir: Path, device: torch.device, options: dict[str, int]
) -> dict[str, Any]:
    """Train and evaluate the FNO on `config`'s data and budget; the job's result."""
    config = full_grid(config)
    ensure_store(config.data, progress=False)
    data = TrainingData(config, rank=0, world_size=1)
    torch.manual_seed(config.training.seed)
    model = build_fno(data.num_channels, **options).to(device)
    rss_before = peak_rss_mib()
    reset_peak(device)
    started = time.perf_counter()
    history = train_fno(model, config, data, device)
    train_seconds = time.perf_counter() - started
    memory = {
        "rss_before_training_mib": rss_before,
        "peak_rss_mib": peak_rss_mib(),
        "peak_cuda_mib": peak_cuda_mib(device),
    }
    test = data.test_trajectories(device)
    total_steps = test.fields.shape[1] - 1
    num_steps = min(config.eval.rollout_steps or total_steps, total_steps)
    one_step, rollout = predictions(model, test, config.eval.batch_size, num_steps)
    truth = test.denormalize(test.fields[:, 1:, test.model_points])
    rollout, truth_rollout = test.denormalize(rollout), truth[:, :num_steps]
    threshold = config.eval.correlation_threshold
    correlation = correlation_per_step(rollout, truth_rollout)
    curve = nrmse_per_step(rollout, truth_rollout)
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_seconds": train_seconds,
        "loop_seconds": history[-1][0],
        **memory,
        "one_step_nrmse": nrmse(test.denormalize(one_step), truth),
        "latent_rollout_nrmse": None,
        "autoregressive_rollout_nrmse": curve.mean().item(),
        "latent_correlation_steps": None,
        "autoregressive_correlation_steps": correlation_time(correlation, threshold),
        "rollout_steps": num_steps,
        "step_time": float(test.times[1] - test.times[0]),
        "curves": {"autoregressive": curve.tolist()},
        "history": history,
    }
