"""The UPT training objective: unrolled latent steps decoded at query points, plus UPT's inverse
losses.

It is an nn.Module so that DistributedDataParallel can wrap the whole step: every use of the
model's parameters (encode, steps, decodes, and the inverse losses' extra decode/encode passes)
happens inside its forward. Any objective with this shape (forward(batch) -> loss terms with a
"total") trains through `upt_train.train_step`.
"""

from __future__ import annotations

import dataclasses
from functools import partial

import torch
from torch import Tensor, nn

from upt_losses import (
    masked_mean_squared_error,
    sample_query_indices,
    upt_inverse_decoding_loss,
    upt_inverse_encoding_loss,
)
from upt_models import UPT
from upt_models.sharing import FirstSamples
from upt_train.batches import Batch
from upt_train.config import TrainingConfig
from upt_train.losses import next_step_loss
from upt_train.seeds import generator


class UPTObjective(nn.Module):
    """forward(batch) -> the loss terms, each already weighted, and their sum "total".

    "next_step": encode the input frame, step the latent K = batch.target.shape[1] times, decode
    every step at the query points; the mean over the K steps of `training.loss`. "inv_enc" and
    "inv_dec" (when `training.use_upt_inverse_losses`): UPT's inverse encoding loss on the input
    frame's latent (sampled among the input points) and inverse decoding loss on the first
    stepped latent (sampled among the query points, so that with every query point its decode is
    the next-step loss's own, computed once), both on the batch's first
    `training.inv_loss_batch_fraction` of samples. "latent" (when
    `training.lambda_latent` > 0): the first stepped latent against the encoding of the true
    next frame at the query points (no gradient through that target), so that latent steps stay
    on the encoder's manifold.
    """

    def __init__(self, model: UPT, config: TrainingConfig) -> None:
        super().__init__()
        self.model = model
        self.config = config

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        """The loss terms; encodes and decodes at the same points share their geometry."""
        with self.model.sharing_geometry() as views:
            return self._terms(batch, views)

    def _terms(self, batch: Batch, views: FirstSamples | None = None) -> dict[str, Tensor]:
        model, config = self.model, self.config
        cond = batch.cond if model.config.num_cond_scalars else None
        codec_cond = cond if model.config.condition_codec else None
        encode = partial(model.encode, cond=codec_cond)
        decode = partial(model.decode, cond=codec_cond)

        latent = encode(batch.fields, batch.coords, batch.mask)
        next_latent = model.step(latent, cond)
        stepped, terms = next_latent, []
        for k in range(batch.target.shape[1]):
            stepped = model.step(stepped, cond) if k else stepped
            prediction = decode(stepped, batch.query_coords)
            terms.append(
                next_step_loss(config.loss, prediction, batch.target[:, k], batch.query_mask)
            )
        losses = {"next_step": torch.stack(terms).mean()}
        if config.lambda_latent:
            with torch.no_grad():
                target = encode(batch.target[:, 0], batch.query_coords, batch.query_mask)
            losses["latent"] = config.lambda_latent * masked_mean_squared_error(next_latent, target)
        if config.use_upt_inverse_losses:
            views = FirstSamples() if views is None else views
            losses |= self._inverse_terms(batch, latent, next_latent, views)
        losses["total"] = torch.stack(list(losses.values())).sum()
        return losses

    def _inverse_terms(
        self, batch: Batch, latent: Tensor, next_latent: Tensor, views: FirstSamples
    ) -> dict[str, Tensor]:
        """Both inverse losses, on the batch's first `inverse_samples` samples (batches are
        shuffled, so any of them); a term weighted 0 is not computed (it is 0, with no
        gradient), but its points are still drawn, so the other term samples as it would have."""
        config, model = self.config, self.model
        n = inverse_samples(config.inv_loss_batch_fraction, latent.shape[0])
        part = first_samples(batch, n, views)
        if n < latent.shape[0]:
            latent, next_latent = views.of(latent, n), views.of(next_latent, n)
        codec_cond = part.cond if model.config.condition_codec else None
        encode = partial(model.encode, cond=codec_cond)
        decode = partial(model.decode, cond=codec_cond)
        sampling = generator(batch.seed, "inverse losses")
        zero = latent.new_zeros(())
        inv_enc = inv_dec = zero
        if config.lambda_inv_enc:
            inv_enc = upt_inverse_encoding_loss(
                part.fields,
                part.coords,
                latent,
                decode,
                num_query_points=config.inv_enc_query_points,
                weight=config.lambda_inv_enc,
                mask=part.mask,
                generator=sampling,
            )
        else:
            sample_query_indices(
                part.coords, config.inv_enc_query_points, mask=part.mask, generator=sampling
            )
        if config.lambda_inv_dec:
            inv_dec = upt_inverse_decoding_loss(
                next_latent,
                decode,
                encode,
                part.query_coords,
                num_query_points=config.inv_dec_query_points,
                weight=config.lambda_inv_dec,
                mask=part.query_mask,
                generator=sampling,
                detach_target=config.detach_inverse_decoding_target,
            )
        return {"inv_enc": inv_enc, "inv_dec": inv_dec}


def inverse_samples(fraction: float, batch_size: int) -> int:
    """How many of a batch's samples the inverse losses see: `fraction` of them, at least one."""
    return max(1, round(fraction * batch_size))


def first_samples(batch: Batch, n: int, views: FirstSamples) -> Batch:
    """The batch's first n samples: views of its tensors made by `views` (one per tensor, so
    fields that share a tensor still do), which the model's shared geometry recognises as part
    of what it computed for the whole batch."""
    if n == batch.fields.shape[0]:
        return batch
    return dataclasses.replace(
        batch,
        **{
            f.name: views.of(value, n)
            for f in dataclasses.fields(batch)
            if isinstance(value := getattr(batch, f.name), Tensor)
        },
    )
