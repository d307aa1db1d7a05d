"""The training objective: next-step error at query points plus UPT's inverse losses.

It is an nn.Module so that DistributedDataParallel can wrap the whole step: every use of the
model's parameters (encode, step, decode, and the inverse losses' extra decode/encode passes)
happens inside its forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor, nn

from upt_losses import (
    masked_mean_squared_error,
    upt_inverse_decoding_loss,
    upt_inverse_encoding_loss,
)
from upt_models import UPT
from upt_train.config import TrainingConfig


@dataclass
class Batch:
    """A batch of next-step samples, on one device.

    fields (B, N, C) and coords (B, N, d): the input field at its points (`fields_orig`);
    query_coords (B, Q, d) and target (B, Q, C): the field one step later at the query points;
    cond (B, S): scalars for a conditioned model (ignored by an unconditioned one), or None.
    """

    fields: Tensor
    coords: Tensor
    query_coords: Tensor
    target: Tensor
    cond: Tensor | None = None

    def to(self, device: torch.device) -> Batch:
        cond = None if self.cond is None else self.cond.to(device, non_blocking=True)
        return Batch(
            *(t.to(device, non_blocking=True) for t in (self.fields, self.coords)),
            *(t.to(device, non_blocking=True) for t in (self.query_coords, self.target)),
            cond=cond,
        )


class UPTObjective(nn.Module):
    """forward(batch, generator) -> the loss terms, each already weighted, and their sum."""

    def __init__(self, model: UPT, config: TrainingConfig) -> None:
        super().__init__()
        self.model = model
        self.config = config

    def forward(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        model, config = self.model, self.config
        cond = batch.cond if model.config.num_cond_scalars else None
        codec_cond = cond if model.config.condition_codec else None
        encode = partial(model.encode, cond=codec_cond)
        decode = partial(model.decode, cond=codec_cond)

        latent = encode(batch.fields, batch.coords)
        next_latent = model.step(latent, cond)
        prediction = decode(next_latent, batch.query_coords)
        losses = {"next_step": masked_mean_squared_error(prediction, batch.target)}
        if config.use_upt_inverse_losses:
            losses["inv_enc"] = upt_inverse_encoding_loss(
                batch.fields,
                batch.coords,
                latent,
                decode,
                num_query_points=config.inv_enc_query_points,
                weight=config.lambda_inv_enc,
                generator=generator,
            )
            losses["inv_dec"] = upt_inverse_decoding_loss(
                next_latent,
                decode,
                encode,
                batch.coords,
                num_query_points=config.inv_dec_query_points,
                weight=config.lambda_inv_dec,
                generator=generator,
                detach_target=config.detach_inverse_decoding_target,
            )
        losses["total"] = torch.stack(list(losses.values())).sum()
        return losses
