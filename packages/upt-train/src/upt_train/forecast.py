"""What the evaluator scores: anything that forecasts a field one step ahead.

A `Forecaster` maps a frame at some points to the next frame at query points, all in normalized
units. Those that can also roll out in a latent space (UPT) have `latent_rollout`; those that can
answer at points other than their inputs set `any_points`. UPT, persistence and the harness's
peers (FNO) are adapters to this one protocol, so one evaluator scores them all alike.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from einops import rearrange, repeat
from torch import Tensor

from upt_models import UPT


@runtime_checkable
class Forecaster(Protocol):
    """one_step(fields (B, N, C), coords (B, N, d), query_coords (B, Q, d), cond (B, S),
    mask=(B, N) bool or None) -> the next frame at the query points (B, Q, C). `mask` marks the
    real points of padded point clouds. Without `any_points`, the query points must be the
    input points."""

    any_points: bool

    def one_step(
        self,
        fields: Tensor,
        coords: Tensor,
        query_coords: Tensor,
        cond: Tensor,
        mask: Tensor | None = None,
    ) -> Tensor: ...


@runtime_checkable
class LatentForecaster(Forecaster, Protocol):
    """A forecaster that rolls out without decoding in between:
    latent_rollout(fields, coords, query_coords, num_steps, cond, mask) -> (B, num_steps, Q, C)."""

    def latent_rollout(
        self,
        fields: Tensor,
        coords: Tensor,
        query_coords: Tensor,
        num_steps: int,
        cond: Tensor,
        mask: Tensor | None = None,
    ) -> Tensor: ...


@runtime_checkable
class Autoencoder(Protocol):
    """reconstruct(fields (B, N, C), coords (B, N, d), cond, mask) -> the fields decoded back
    at coords from their encoding: what bounds any forecast made through the latent."""

    def reconstruct(
        self, fields: Tensor, coords: Tensor, cond: Tensor, mask: Tensor | None = None
    ) -> Tensor: ...


class UPTForecaster:
    """A UPT as a forecaster: one step is encode, step, decode; the latent rollout encodes once,
    steps `num_steps` times and decodes each latent, `decode_batch` latents at a time."""

    any_points = True

    def __init__(self, model: UPT, decode_batch: int = 64) -> None:
        self.model, self.decode_batch = model, decode_batch

    def _cond(self, cond: Tensor) -> tuple[Tensor | None, Tensor | None]:
        config = self.model.config
        step_cond = cond if config.num_cond_scalars else None
        return step_cond, step_cond if config.condition_codec else None

    def one_step(
        self,
        fields: Tensor,
        coords: Tensor,
        query_coords: Tensor,
        cond: Tensor,
        mask: Tensor | None = None,
    ) -> Tensor:
        return self.model(fields, coords, query_coords, mask=mask, cond=self._cond(cond)[0])

    def reconstruct(
        self, fields: Tensor, coords: Tensor, cond: Tensor, mask: Tensor | None = None
    ) -> Tensor:
        codec_cond = self._cond(cond)[1]
        latent = self.model.encode(fields, coords, mask, cond=codec_cond)
        return self.model.decode(latent, coords, codec_cond)

    def latent_rollout(
        self,
        fields: Tensor,
        coords: Tensor,
        query_coords: Tensor,
        num_steps: int,
        cond: Tensor,
        mask: Tensor | None = None,
    ) -> Tensor:
        step_cond, codec_cond = self._cond(cond)
        latent = self.model.encode(fields, coords, mask, cond=codec_cond)
        latents = rearrange(
            self.model.rollout(latent, num_steps, step_cond), "b t l d -> (b t) l d"
        )
        queries = repeat(query_coords, "b q d -> (b t) q d", t=num_steps)
        flat_cond = (
            None if codec_cond is None else repeat(codec_cond, "b s -> (b t) s", t=num_steps)
        )
        decoded = [
            self.model.decode(
                latents[i : i + self.decode_batch],
                queries[i : i + self.decode_batch],
                cond=None if flat_cond is None else flat_cond[i : i + self.decode_batch],
            )
            for i in range(0, len(latents), self.decode_batch)
        ]
        return rearrange(torch.cat(decoded), "(b t) q c -> b t q c", t=num_steps)

    def eval(self) -> None:
        self.model.eval()


class Persistence:
    """u(t + dt) = u(t): the floor a trained model must beat. Its rollout holds the first frame."""

    any_points = False

    def one_step(
        self,
        fields: Tensor,
        coords: Tensor,
        query_coords: Tensor,
        cond: Tensor,
        mask: Tensor | None = None,
    ) -> Tensor:
        return fields
