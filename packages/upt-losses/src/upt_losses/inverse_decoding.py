"""UPT's inverse decoding loss: what the decoder outputs must encode back to the latent."""

from __future__ import annotations

import torch
from torch import Tensor

from upt_losses._validation import (
    accepts_mask,
    check_latent,
    check_mask,
    check_num_query_points,
    check_output,
    check_points,
    check_weight,
    shape_of,
)
from upt_losses.protocols import Decoder, Encoder
from upt_losses.reduction import masked_mean_squared_error
from upt_losses.sampling import gather_points, sample_query_indices, uses_every_point


def upt_inverse_decoding_loss(
    latent: Tensor,
    decoder: Decoder,
    encoder: Encoder,
    query_coords: Tensor,
    *,
    num_query_points: int | None = None,
    weight: float = 1.0,
    mask: Tensor | None = None,
    generator: torch.Generator | None = None,
    detach_target: bool = True,
) -> Tensor:
    """Decode `latent` at a sample of query points, encode that output again, compare latents.

    Algorithm: per sample, draw `num_query_points` of the real query points without replacement
    (all of them when None or more than N); decode the latent there; encode the decoded fields at
    the same points; return `weight` times the mean squared error between that re-encoded latent
    and `latent` (mean over tokens and features, then over the batch).

    Unlike the inverse encoding loss, the re-encoded latent depends on the whole sampled point set,
    so the sampled value is not an average over points and need not equal the full-set value in
    expectation; it does equal it when every point is used.

    Args:
        latent: (B, L, D) the latent to decode; also the target.
        decoder: decoder(latent (B, L, D), query_coords (B, Q, d)) -> (B, Q, C).
        encoder: encoder(fields (B, Q, C), coords (B, Q, d)) -> (B, L, D). When a sample has fewer
            real points than Q, it is called with `mask=` (B, Q) bool as well, True for real points.
        query_coords: (B, N, d) candidate points to decode at, e.g. the input mesh.
        num_query_points: Q, points sampled per sample; None for all.
        weight: non-negative factor on the loss.
        mask: (B, N) bool, True for real query points; padded points are never sampled.
        generator: makes the sampling reproducible.
        detach_target: compare against `latent.detach()` (the default), so the target gets no
            gradient; False compares against `latent` itself, as the official UPT code trains.

    Returns:
        A scalar tensor, differentiable with respect to the decoder, the encoder and, through the
        decoding path, the latent.

    Raises:
        ValueError: on mismatched shapes, a bad argument, an encoder or decoder output of the wrong
            shape, or padding to pass to an encoder that takes no `mask` keyword.
    """
    batch, num_points = check_points("fields", None, "query_coords", query_coords)
    check_latent(latent, batch, "query_coords")
    check_mask(mask, batch, num_points)
    check_num_query_points(num_query_points)
    check_weight(weight)

    indices, sampled_mask = sample_query_indices(
        query_coords, num_query_points, mask=mask, generator=generator
    )
    has_padding = sampled_mask is not None and not bool(sampled_mask.all())
    if has_padding and not accepts_mask(encoder):
        raise ValueError(
            f"some samples have fewer real points than the {indices.shape[1]} sampled slots, "
            "so the encoder must accept a `mask=` keyword ((B, Q) bool, True = real point) to "
            "ignore the padding; give the encoder that keyword or lower num_query_points"
        )
    # every point, in order: the caller's own tensor, so an encoder can recognise its points
    every = uses_every_point(num_query_points, num_points)
    coords = query_coords if every else gather_points(query_coords, indices)
    if has_padding:
        padding = sampled_mask.logical_not().unsqueeze(-1)
        coords = coords.masked_fill(padding, 0.0)
    decoded = check_output(
        "decoder", decoder(latent, coords), (batch, indices.shape[1], None), "(B, Q, C)"
    )
    if has_padding:
        re_encoded = encoder(decoded.masked_fill(padding, 0.0), coords, mask=sampled_mask)
    else:
        re_encoded = encoder(decoded, coords)
    re_encoded = check_output("encoder", re_encoded, shape_of(latent), "(B, L, D)")
    target = latent.detach() if detach_target else latent
    return weight * masked_mean_squared_error(re_encoded, target)
