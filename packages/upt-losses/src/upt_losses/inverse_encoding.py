"""UPT's inverse encoding loss: the latent must hold the field it was encoded from."""

from __future__ import annotations

import torch
from torch import Tensor

from upt_losses._validation import (
    check_latent,
    check_mask,
    check_num_query_points,
    check_output,
    check_points,
    check_weight,
)
from upt_losses.protocols import Decoder
from upt_losses.reduction import masked_mean_squared_error
from upt_losses.sampling import gather_points, sample_query_indices, uses_every_point


def upt_inverse_encoding_loss(
    input_fields: Tensor,
    input_coords: Tensor,
    latent: Tensor,
    decoder: Decoder,
    *,
    num_query_points: int | None = None,
    weight: float = 1.0,
    mask: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Decode `latent` at a sample of the input points and compare with the input fields there.

    Algorithm: per sample, draw `num_query_points` of the real input points without replacement
    (all of them when None or more than N); decode the latent at their coordinates; return
    `weight` times the mean squared error against the input fields at those points (mean over
    the sample's points and channels, then over the batch). With sampling, the value is an
    unbiased estimate of the value over all points.

    Args:
        input_fields: (B, N, C) the fields the latent was encoded from.
        input_coords: (B, N, d) their coordinates.
        latent: (B, L, D) the encoder's output for these fields.
        decoder: decoder(latent (B, L, D), query_coords (B, Q, d)) -> (B, Q, C).
        num_query_points: Q, points sampled per sample; None for all.
        weight: non-negative factor on the loss.
        mask: (B, N) bool, True for real points; padded points are never sampled or counted.
        generator: makes the sampling reproducible.

    Returns:
        A scalar tensor, differentiable with respect to the decoder and the latent.

    Raises:
        ValueError: on mismatched shapes, a bad argument, or a decoder output of the wrong shape.
    """
    batch, num_points = check_points("input_fields", input_fields, "input_coords", input_coords)
    check_latent(latent, batch, "input_fields")
    check_mask(mask, batch, num_points)
    check_num_query_points(num_query_points)
    check_weight(weight)

    indices, sampled_mask = sample_query_indices(
        input_coords, num_query_points, mask=mask, generator=generator
    )
    every = uses_every_point(num_query_points, num_points)
    query_coords = input_coords if every else gather_points(input_coords, indices)
    if sampled_mask is not None:
        query_coords = query_coords.masked_fill(~sampled_mask.unsqueeze(-1), 0.0)
    decoded = check_output(
        "decoder",
        decoder(latent, query_coords),
        (batch, indices.shape[1], input_fields.shape[-1]),
        "(B, Q, C)",
    )
    target = input_fields if every else gather_points(input_fields, indices)
    return weight * masked_mean_squared_error(decoded, target, sampled_mask)
