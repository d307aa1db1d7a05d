"""The call signatures an encoder and a decoder must follow to be used with the inverse losses."""

from __future__ import annotations

from typing import Protocol

from torch import Tensor


class Encoder(Protocol):
    """encoder(fields (B, N, C), coords (B, N, d)) -> latent (B, L, D).

    When the points handed to it contain padding, the inverse decoding loss calls
    encoder(fields, coords, mask=mask) with a (B, N) bool mask, True for real points.
    """

    def __call__(self, fields: Tensor, coords: Tensor, /) -> Tensor: ...


class Decoder(Protocol):
    """decoder(latent (B, L, D), query_coords (B, Q, d)) -> fields (B, Q, C)."""

    def __call__(self, latent: Tensor, query_coords: Tensor, /) -> Tensor: ...
