"""Scoring any forecaster on whole trajectories: one-step and rollout nRMSE, correlation time.

Two rollouts start from the true first frame:
- "autoregressive": predict one step, feed the prediction back in (every forecaster);
- "latent": encode once, step in latent space, decode every step (forecasters with
  `latent_rollout`, such as UPT: what the inverse losses are for).
The given first frame is excluded from every metric; errors are in physical units. A forecaster
that answers at any point (`any_points`) is also scored at other resolutions; an autoencoder
(`reconstruct`) by its reconstruction nRMSE over every frame: the floor under anything it
predicts through its latent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from einops import rearrange, repeat
from torch import Tensor
from tqdm import tqdm

from upt_train.data import Trajectories
from upt_train.forecast import Autoencoder, Forecaster, LatentForecaster
from upt_train.metrics import correlation_per_step, correlation_time, nrmse, nrmse_per_step

ROLLOUTS = ("latent", "autoregressive")


@dataclass
class Evaluation:
    """Scalars for summary.json; per rollout mode its nRMSE per step, its predictions (B, T, N,
    C) at the model's points, both physical; and the true frames they are scored against."""

    scalars: dict[str, float | int | None]
    nrmse_per_step: dict[str, Tensor] = field(default_factory=dict)
    rollouts: dict[str, Tensor] = field(default_factory=dict)
    truth: Tensor | None = None


def _parts(count: int, batch_size: int, label: str, progress: bool) -> Iterable[slice]:
    parts = [slice(i, min(i + batch_size, count)) for i in range(0, count, batch_size)]
    return tqdm(parts, desc=label, leave=False, disable=not progress, dynamic_ncols=True)


def _points(data: Trajectories, indices: Tensor, batch: int) -> Tensor:
    return repeat(data.coords[indices], "n d -> b n d", b=batch)


def one_step_predictions(
    forecaster: Forecaster,
    data: Trajectories,
    query_points: Tensor,
    batch_size: int,
    progress: bool,
) -> Tensor:
    """Frame t+1 predicted from the true frame t, for every t: (B, T-1, Q, C), normalized."""
    inputs = data.fields[:, :-1][:, :, data.model_points]
    steps = inputs.shape[1]
    flat = rearrange(inputs, "b t n c -> (b t) n c")
    cond = repeat(data.cond, "b s -> (b t) s", t=steps)
    outputs = []
    for part in _parts(len(flat), batch_size, "one-step", progress):
        size = part.stop - part.start
        coords = _points(data, data.model_points, size)
        queries = _points(data, query_points, size)
        outputs.append(forecaster.one_step(flat[part], coords, queries, cond[part]))
    return rearrange(torch.cat(outputs), "(b t) q c -> b t q c", t=steps)


def autoregressive_rollout(
    forecaster: Forecaster, data: Trajectories, num_steps: int, batch_size: int, progress: bool
) -> Tensor:
    """Feed each prediction back in, at the model's points: (B, num_steps, N, C), normalized."""
    outputs = []
    for part in _parts(len(data.fields), batch_size, "autoregressive rollout", progress):
        frame = data.fields[part, 0][:, data.model_points]
        coords = _points(data, data.model_points, len(frame))
        frames = []
        for _ in range(num_steps):
            frame = forecaster.one_step(frame, coords, coords, data.cond[part])
            frames.append(frame)
        outputs.append(torch.stack(frames, dim=1))
    return torch.cat(outputs)


def latent_rollout(
    forecaster: LatentForecaster,
    data: Trajectories,
    query_points: Tensor,
    num_steps: int,
    batch_size: int,
    progress: bool,
) -> Tensor:
    """Encode the first frame once, roll out in latent space: (B, num_steps, Q, C), normalized."""
    outputs = []
    for part in _parts(len(data.fields), batch_size, "latent rollout", progress):
        first = data.fields[part, 0][:, data.model_points]
        coords = _points(data, data.model_points, len(first))
        queries = _points(data, query_points, len(first))
        outputs.append(
            forecaster.latent_rollout(first, coords, queries, num_steps, data.cond[part])
        )
    return torch.cat(outputs)


def reconstructions(
    autoencoder: Autoencoder, data: Trajectories, batch_size: int, progress: bool
) -> Tensor:
    """decode(encode(u)) of every frame at the model's points: (B, T, N, C), normalized."""
    frames = data.fields[:, :, data.model_points]
    steps = frames.shape[1]
    flat = rearrange(frames, "b t n c -> (b t) n c")
    cond = repeat(data.cond, "b s -> (b t) s", t=steps)
    outputs = []
    for part in _parts(len(flat), batch_size, "reconstruction", progress):
        coords = _points(data, data.model_points, part.stop - part.start)
        outputs.append(autoencoder.reconstruct(flat[part], coords, cond[part]))
    return rearrange(torch.cat(outputs), "(b t) n c -> b t n c", t=steps)


def _rollout_scalars(
    mode: str, prediction: Tensor, truth: Tensor, threshold: float, step_time: float
) -> tuple[dict[str, float | int | None], Tensor]:
    curve = nrmse_per_step(prediction, truth)
    steps = correlation_time(correlation_per_step(prediction, truth), threshold)
    return {
        f"{mode}_rollout_nrmse": curve.mean().item(),
        f"{mode}_correlation_steps": steps,
        f"{mode}_correlation_time": None if steps is None else steps * step_time,
    }, curve


@torch.no_grad()
def evaluate(
    forecaster: Forecaster,
    data: Trajectories,
    *,
    rollout_steps: int | None = None,
    super_resolution_points: dict[str, Tensor] | None = None,
    correlation_threshold: float = 0.8,
    batch_size: int = 16,
    progress: bool = False,
) -> Evaluation:
    """Every metric of `forecaster` on `data`. `rollout_steps` caps the rollouts (None: every
    frame); `super_resolution_points` maps a label to point indices to decode at as well
    (forecasters with `any_points` only); `progress` shows a bar per phase."""
    if hasattr(forecaster, "eval"):
        forecaster.eval()
    available = data.fields.shape[1] - 1
    num_steps = min(rollout_steps or available, available)
    frames = data.denormalize(data.fields)
    truth = frames[:, 1 : num_steps + 1][:, :, data.model_points]
    step_time = float(data.times[1] - data.times[0])
    settings = {"batch_size": batch_size, "progress": progress}

    one_step = one_step_predictions(forecaster, data, data.model_points, **settings)
    scalars: dict[str, float | int | None] = {
        "one_step_nrmse": nrmse(data.denormalize(one_step), frames[:, 1:][:, :, data.model_points]),
        "rollout_steps": num_steps,
        "step_time": step_time,
    }
    if isinstance(forecaster, Autoencoder):
        decoded = data.denormalize(reconstructions(forecaster, data, **settings))
        scalars["reconstruction_nrmse"] = nrmse(decoded, frames[:, :, data.model_points])
    rollouts = {"autoregressive": autoregressive_rollout(forecaster, data, num_steps, **settings)}
    if isinstance(forecaster, LatentForecaster):
        rollouts["latent"] = latent_rollout(
            forecaster, data, data.model_points, num_steps, **settings
        )
    rollouts = {mode: data.denormalize(rollouts[mode]) for mode in ROLLOUTS if mode in rollouts}
    curves = {}
    for mode, prediction in rollouts.items():
        values, curves[mode] = _rollout_scalars(
            mode, prediction, truth, correlation_threshold, step_time
        )
        scalars |= values
    if forecaster.any_points:
        for label, points in (super_resolution_points or {}).items():
            fine = data.denormalize(one_step_predictions(forecaster, data, points, **settings))
            scalars[f"one_step_nrmse_{label}"] = nrmse(fine, frames[:, 1:][:, :, points])
            if isinstance(forecaster, LatentForecaster):
                fine = latent_rollout(forecaster, data, points, num_steps, **settings)
                fine_truth = frames[:, 1 : num_steps + 1][:, :, points]
                scalars[f"latent_rollout_nrmse_{label}"] = nrmse(data.denormalize(fine), fine_truth)
    return Evaluation(
        scalars,
        {mode: curve.cpu() for mode, curve in curves.items()},
        {mode: values.cpu() for mode, values in rollouts.items()},
        truth.cpu(),
    )
