"""Scoring any forecaster on whole trajectories: one-step and rollout nRMSE, correlation time.

Two rollouts start from the true first frame:
- "autoregressive": predict one step, feed the prediction back in (every forecaster);
- "latent": encode once, step in latent space, decode every step (forecasters with
  `latent_rollout`, such as UPT: what the inverse losses are for).
The given first frame is excluded from every metric; errors are in physical units, padding of
point clouds never counts. A forecaster that answers at any point (`any_points`) is also scored
at the trajectories' other point sets (finer resolutions, the full grid of a cloud store); an
autoencoder (`reconstruct`) by its reconstruction nRMSE over every frame: the floor under
anything it predicts through its latent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from einops import rearrange, repeat
from torch import Tensor
from tqdm import tqdm

from upt_train.forecast import Autoencoder, Forecaster, LatentForecaster
from upt_train.metrics import correlation_per_step, correlation_time, nrmse, nrmse_per_step
from upt_train.trajectories import PointSet, Trajectories

ROLLOUTS = ("latent", "autoregressive")


@dataclass
class Evaluation:
    """Scalars for summary.json; per rollout mode its nRMSE per step and its predictions (B, T,
    N, C) at the input points, both physical; the true frames they are scored against; and the
    latent rollout at each further point set (by label), physical."""

    scalars: dict[str, float | int | None]
    nrmse_per_step: dict[str, Tensor] = field(default_factory=dict)
    rollouts: dict[str, Tensor] = field(default_factory=dict)
    truth: Tensor | None = None
    resolution_rollouts: dict[str, Tensor] = field(default_factory=dict)


def _parts(count: int, batch_size: int, label: str, progress: bool) -> Iterable[slice]:
    parts = [slice(i, min(i + batch_size, count)) for i in range(0, count, batch_size)]
    return tqdm(parts, desc=label, leave=False, disable=not progress, dynamic_ncols=True)


def _per_frame(values: Tensor | None, steps: int) -> Tensor | None:
    """(B, ...) -> (B * steps, ...), each trajectory's entry repeated for each of its frames."""
    return None if values is None else repeat(values, "b ... -> (b t) ...", t=steps)


def one_step_predictions(
    forecaster: Forecaster,
    data: Trajectories,
    queries: PointSet,
    batch_size: int,
    progress: bool,
) -> Tensor:
    """Every true frame t at the input points -> frame t+1 at `queries`: (B, T-1, Q, C)."""
    inputs = data.inputs
    steps = inputs.values.shape[1] - 1
    fields = rearrange(inputs.values[:, :-1], "b t n c -> (b t) n c")
    coords, mask = _per_frame(inputs.coords, steps), _per_frame(inputs.mask, steps)
    query_coords, cond = _per_frame(queries.coords, steps), _per_frame(data.cond, steps)
    outputs = []
    for part in _parts(len(fields), batch_size, "one-step", progress):
        part_mask = None if mask is None else mask[part]
        outputs.append(
            forecaster.one_step(
                fields[part], coords[part], query_coords[part], cond[part], mask=part_mask
            )
        )
    return rearrange(torch.cat(outputs), "(b t) q c -> b t q c", t=steps)


def autoregressive_rollout(
    forecaster: Forecaster, data: Trajectories, num_steps: int, batch_size: int, progress: bool
) -> Tensor:
    """Feed each prediction back in, at the input points: (B, num_steps, N, C)."""
    outputs = []
    for part in _parts(len(data.cond), batch_size, "autoregressive rollout", progress):
        inputs = data.inputs.select(part)
        frame, frames = inputs.values[:, 0], []
        for _ in range(num_steps):
            frame = forecaster.one_step(
                frame, inputs.coords, inputs.coords, data.cond[part], mask=inputs.mask
            )
            frames.append(frame)
        outputs.append(torch.stack(frames, dim=1))
    return torch.cat(outputs)


def latent_rollout(
    forecaster: LatentForecaster,
    data: Trajectories,
    queries: PointSet,
    num_steps: int,
    batch_size: int,
    progress: bool,
) -> Tensor:
    """Encode the first frame once, roll out in latent space: (B, num_steps, Q, C)."""
    outputs = []
    for part in _parts(len(data.cond), batch_size, "latent rollout", progress):
        inputs = data.inputs.select(part)
        outputs.append(
            forecaster.latent_rollout(
                inputs.values[:, 0],
                inputs.coords,
                queries.coords[part],
                num_steps,
                data.cond[part],
                mask=inputs.mask,
            )
        )
    return torch.cat(outputs)


def reconstructions(
    autoencoder: Autoencoder, data: Trajectories, batch_size: int, progress: bool
) -> Tensor:
    """decode(encode(u)) of every frame at the input points: (B, T, N, C)."""
    inputs = data.inputs
    steps = inputs.values.shape[1]
    fields = rearrange(inputs.values, "b t n c -> (b t) n c")
    coords, mask = _per_frame(inputs.coords, steps), _per_frame(inputs.mask, steps)
    cond = _per_frame(data.cond, steps)
    outputs = []
    for part in _parts(len(fields), batch_size, "reconstruction", progress):
        part_mask = None if mask is None else mask[part]
        outputs.append(
            autoencoder.reconstruct(fields[part], coords[part], cond[part], mask=part_mask)
        )
    return rearrange(torch.cat(outputs), "(b t) n c -> b t n c", t=steps)


def _rollout_scalars(
    mode: str, prediction: Tensor, truth: Tensor, mask: Tensor | None, threshold: float, dt: float
) -> tuple[dict[str, float | int | None], Tensor]:
    curve = nrmse_per_step(prediction, truth, mask)
    steps = correlation_time(correlation_per_step(prediction, truth, mask), threshold)
    return {
        f"{mode}_rollout_nrmse": curve.mean().item(),
        f"{mode}_correlation_steps": steps,
        f"{mode}_correlation_time": None if steps is None else steps * dt,
    }, curve


@torch.no_grad()
def evaluate(
    forecaster: Forecaster,
    data: Trajectories,
    *,
    rollout_steps: int | None = None,
    correlation_threshold: float = 0.8,
    batch_size: int = 16,
    progress: bool = False,
) -> Evaluation:
    """Every metric of `forecaster` on `data`. `rollout_steps` caps the rollouts (None: every
    frame); `progress` shows a bar per phase."""
    if hasattr(forecaster, "eval"):
        forecaster.eval()
    inputs = data.inputs
    available = inputs.values.shape[1] - 1
    num_steps = min(rollout_steps or available, available)
    physical = data.denormalize(inputs.values)
    truth = physical[:, 1 : num_steps + 1]
    step_time = float(data.times[1] - data.times[0])
    settings = {"batch_size": batch_size, "progress": progress}

    one_step = data.denormalize(one_step_predictions(forecaster, data, inputs, **settings))
    scalars: dict[str, float | int | None] = {
        "one_step_nrmse": nrmse(one_step, physical[:, 1:], inputs.mask),
        "rollout_steps": num_steps,
        "step_time": step_time,
    }
    if isinstance(forecaster, Autoencoder):
        decoded = data.denormalize(reconstructions(forecaster, data, **settings))
        scalars["reconstruction_nrmse"] = nrmse(decoded, physical, inputs.mask)
    rollouts = {"autoregressive": autoregressive_rollout(forecaster, data, num_steps, **settings)}
    if isinstance(forecaster, LatentForecaster):
        rollouts["latent"] = latent_rollout(forecaster, data, inputs, num_steps, **settings)
    rollouts = {mode: data.denormalize(rollouts[mode]) for mode in ROLLOUTS if mode in rollouts}
    curves = {}
    for mode, prediction in rollouts.items():
        values, curves[mode] = _rollout_scalars(
            mode, prediction, truth, inputs.mask, correlation_threshold, step_time
        )
        scalars |= values
    fine_rollouts = {}
    for label, points in data.resolutions.items() if forecaster.any_points else ():
        fine_truth = data.denormalize(points.values)
        fine = data.denormalize(one_step_predictions(forecaster, data, points, **settings))
        scalars[f"one_step_nrmse_{label}"] = nrmse(fine, fine_truth[:, 1:], points.mask)
        if isinstance(forecaster, LatentForecaster):
            fine = data.denormalize(latent_rollout(forecaster, data, points, num_steps, **settings))
            scalars[f"latent_rollout_nrmse_{label}"] = nrmse(
                fine, fine_truth[:, 1 : num_steps + 1], points.mask
            )
            fine_rollouts[label] = fine.cpu()
    return Evaluation(
        scalars,
        {mode: curve.cpu() for mode, curve in curves.items()},
        {mode: values.cpu() for mode, values in rollouts.items()},
        truth.cpu(),
        fine_rollouts,
    )
