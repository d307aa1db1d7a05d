"""A UPT entry: train with upt-train's own loop, evaluate with its own evaluation."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from upt_harness.measure import peak_cuda_mib, peak_rss_mib, reset_peak, synchronize
from upt_train.config import RunConfig
from upt_train.data import TrainingData, ensure_store
from upt_train.distributed import Distributed
from upt_train.evaluate import evaluate
from upt_train.report import read_metrics
from upt_train.train import METRICS_FILE, train


def run_upt(config: RunConfig, run_dir: Path, device: torch.device) -> dict[str, Any]:
    """Train `config` into `run_dir`, then evaluate on the test split; the job's result."""
    ensure_store(config.data, progress=False)
    data = TrainingData(config, rank=0, world_size=1)
    world = Distributed(rank=0, world_size=1, device=device)
    rss_before = peak_rss_mib()
    reset_peak(device)
    started = time.perf_counter()
    model = train(config, run_dir, data, world, resume=False)
    synchronize(device)
    train_seconds = time.perf_counter() - started
    memory = {
        "rss_before_training_mib": rss_before,
        "peak_rss_mib": peak_rss_mib(),
        "peak_cuda_mib": peak_cuda_mib(device),
    }
    evaluation = evaluate(
        model,
        data.test_trajectories(device),
        rollout_steps=config.eval.rollout_steps,
        super_resolution_points={},
        correlation_threshold=config.eval.correlation_threshold,
        batch_size=config.eval.batch_size,
    )
    scalars = evaluation.scalars
    elapsed, history = 0.0, []
    for row in read_metrics(run_dir / METRICS_FILE):
        elapsed += row["step_seconds"]
        history.append((elapsed, row["loss/next_step"]))
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_seconds": train_seconds,
        "loop_seconds": elapsed,
        **memory,
        "one_step_nrmse": scalars["one_step_nrmse"],
        "latent_rollout_nrmse": scalars["latent_rollout_nrmse"],
        "autoregressive_rollout_nrmse": scalars["reencode_rollout_nrmse"],
        "latent_correlation_steps": scalars["latent_correlation_steps"],
        "autoregressive_correlation_steps": scalars["reencode_correlation_steps"],
        "rollout_steps": scalars["rollout_steps"],
        "step_time": scalars["step_time"],
        "curves": {
            "latent": evaluation.nrmse_per_step["latent rollout"].tolist(),
            "autoregressive": evaluation.nrmse_per_step["re-encode rollout"].tolist(),
        },
        "history": history,
    }
