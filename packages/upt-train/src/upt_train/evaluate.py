"""Test-split evaluation: one-step and rollout nRMSE, correlation time, other resolutions.

Two rollout modes start from the true first frame:
- latent: encode once, step in latent space, decode every step (what the inverse losses enable);
- re-encode: decode, encode that output again, step; the classic autoregressive loop.
The given first frame is excluded from every metric. Errors are measured in physical units.
Persistence (predicting u(t+1) = u(t)) is scored too, as the floor a one-step model must beat.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

import torch
from einops import rearrange, repeat
from torch import Tensor
from tqdm import tqdm

from upt_models import UPT
from upt_train.metrics import correlation_per_step, correlation_time, nrmse, nrmse_per_step


@dataclass
class TestTrajectories:
    """Whole test trajectories, normalized as the model sees them.

    fields (B, T, N, C) on coords (N, d); `model_points` indexes the points the model was trained
    on; cond (B, S) or None; `denormalize` maps model units back to physical ones.
    """

    fields: Tensor
    coords: Tensor
    model_points: Tensor
    times: Tensor
    cond: Tensor | None
    denormalize: Callable[[Tensor], Tensor]


@dataclass
class Evaluation:
    """Scalars for summary.json plus the curves and arrays the plots need."""

    scalars: dict[str, float | int | None]
    nrmse_per_step: dict[str, Tensor] = field(default_factory=dict)
    rollouts: dict[str, Tensor] = field(default_factory=dict)
    truth: Tensor | None = None


def _batched(count: int, batch_size: int, label: str, progress: bool) -> Iterable[slice]:
    parts = [slice(i, min(i + batch_size, count)) for i in range(0, count, batch_size)]
    return tqdm(parts, desc=label, leave=False, disable=not progress, dynamic_ncols=True)


def _codec(model: UPT, cond: Tensor | None) -> dict[str, Tensor | None]:
    return {"cond": cond if model.config.condition_codec else None}


def one_step_predictions(
    model: UPT, data: TestTrajectories, query_points: Tensor, batch_size: int, progress: bool
) -> Tensor:
    """Predict frame t+1 from the true frame t for every t: (B, T-1, Q, C)."""
    inputs = data.fields[:, :-1][:, :, data.model_points]
    batch, steps = inputs.shape[:2]
    flat = rearrange(inputs, "b t n c -> (b t) n c")
    cond = None if data.cond is None else repeat(data.cond, "b s -> (b t) s", t=steps)
    outputs = []
    for part in _batched(len(flat), batch_size, "one-step", progress):
        size = part.stop - part.start
        coords = repeat(data.coords[data.model_points], "n d -> b n d", b=size)
        queries = repeat(data.coords[query_points], "q d -> b q d", b=size)
        part_cond = None if cond is None else cond[part]
        outputs.append(model(flat[part], coords, queries, cond=part_cond))
    return rearrange(torch.cat(outputs), "(b t) q c -> b t q c", b=batch)


def _first_frames(data: TestTrajectories, part: slice) -> tuple[int, Tensor, Tensor, Tensor | None]:
    """For trajectories `part`: their count, first frames and coords at the model's points, cond."""
    size = part.stop - part.start
    coords = repeat(data.coords[data.model_points], "n d -> b n d", b=size)
    cond = None if data.cond is None else data.cond[part]
    return size, data.fields[part, 0][:, data.model_points], coords, cond


def latent_rollout(
    model: UPT,
    data: TestTrajectories,
    query_points: Tensor,
    num_steps: int,
    batch_size: int,
    progress: bool,
) -> Tensor:
    """Encode the first frame, step `num_steps` times in latent space, decode each: (B, T, Q, C).

    Latents are decoded `batch_size` at a time, so memory does not grow with the rollout length.
    """
    outputs = []
    for part in _batched(len(data.fields), batch_size, "latent rollout", progress):
        size, initial, coords, cond = _first_frames(data, part)
        latents = model.rollout(
            model.encode(initial, coords, **_codec(model, cond)), num_steps, cond
        )
        flat_latents = rearrange(latents, "b t l d -> (b t) l d")
        flat_cond = None if cond is None else repeat(cond, "b s -> (b t) s", t=num_steps)
        decoded = []
        for chunk in _batched(len(flat_latents), batch_size, "decoding", progress=False):
            queries = repeat(data.coords[query_points], "q d -> b q d", b=chunk.stop - chunk.start)
            chunk_cond = None if flat_cond is None else flat_cond[chunk]
            decoded.append(model.decode(flat_latents[chunk], queries, **_codec(model, chunk_cond)))
        outputs.append(rearrange(torch.cat(decoded), "(b t) q c -> b t q c", b=size))
    return torch.cat(outputs)


def reencode_rollout(
    model: UPT, data: TestTrajectories, num_steps: int, batch_size: int, progress: bool
) -> Tensor:
    """Decode every step at the model's points and encode that again: (B, T, N, C)."""
    outputs = []
    for part in _batched(len(data.fields), batch_size, "re-encode rollout", progress):
        _, field_now, coords, cond = _first_frames(data, part)
        frames = []
        for _ in range(num_steps):
            field_now = model(field_now, coords, coords, cond=cond)
            frames.append(field_now)
        outputs.append(torch.stack(frames, dim=1))
    return torch.cat(outputs)


@torch.no_grad()
def evaluate(
    model: UPT,
    data: TestTrajectories,
    *,
    rollout_steps: int | None,
    super_resolution_points: dict[str, Tensor],
    correlation_threshold: float,
    batch_size: int,
    progress: bool = False,
) -> Evaluation:
    """All test metrics. `super_resolution_points` maps a label to point indices to decode at;
    `progress` shows a bar per phase."""
    model.eval()
    if not model.config.num_cond_scalars:
        data = dataclasses.replace(data, cond=None)
    num_steps = min(rollout_steps or data.fields.shape[1] - 1, data.fields.shape[1] - 1)
    truth = data.denormalize(data.fields[:, 1 : num_steps + 1])
    model_truth = truth[:, :, data.model_points]
    step_time = float(data.times[1] - data.times[0])

    predict = partial(one_step_predictions, model, data, batch_size=batch_size, progress=progress)
    run = partial(
        latent_rollout, model, data, num_steps=num_steps, batch_size=batch_size, progress=progress
    )
    one_step = data.denormalize(predict(data.model_points))
    reencoded = reencode_rollout(model, data, num_steps, batch_size, progress)
    rollouts = {
        "latent rollout": data.denormalize(run(query_points=data.model_points)),
        "re-encode rollout": data.denormalize(reencoded),
    }
    frames = data.denormalize(data.fields)[:, :, data.model_points]
    scalars: dict[str, float | int | None] = {
        "one_step_nrmse": nrmse(one_step, frames[:, 1:]),
        "persistence_one_step_nrmse": nrmse(frames[:, :-1], frames[:, 1:]),
        "rollout_steps": num_steps,
        "step_time": step_time,
    }
    per_step = {}
    for name, prediction in rollouts.items():
        key = name.split()[0].replace("-", "")
        per_step[name] = nrmse_per_step(prediction, model_truth)
        scalars[f"{key}_rollout_nrmse"] = per_step[name].mean().item()
        steps = correlation_time(
            correlation_per_step(prediction, model_truth), correlation_threshold
        )
        scalars[f"{key}_correlation_steps"] = steps
        scalars[f"{key}_correlation_time"] = None if steps is None else steps * step_time
    for label, points in super_resolution_points.items():
        one_step_fine = data.denormalize(predict(points))
        fine_truth = data.denormalize(data.fields[:, 1:])[:, :, points]
        scalars[f"one_step_nrmse_{label}"] = nrmse(one_step_fine, fine_truth)
        fine_rollout = data.denormalize(run(query_points=points))
        scalars[f"latent_rollout_nrmse_{label}"] = nrmse(fine_rollout, truth[:, :, points])
    return Evaluation(
        scalars,
        {name: values.cpu() for name, values in per_step.items()},
        {name: values.cpu() for name, values in rollouts.items()},
        model_truth.cpu(),
    )
