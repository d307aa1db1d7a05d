"""Encoder/decoder pairs whose inverse losses are known without running the code under test."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class SpectralPair:
    """A truncated Fourier series on [0, 1): latent (B, 2K+1, C) holds the coefficients.

    decode evaluates the series; encode fits it by least squares. For band-limited fields sampled
    at 2K+1 or more distinct points the two are exact inverses, so both inverse losses vanish.
    """

    def __init__(self, num_modes: int) -> None:
        self.num_modes = num_modes

    @property
    def num_tokens(self) -> int:
        return 2 * self.num_modes + 1

    def basis(self, coords: Tensor) -> Tensor:
        """coords (B, Q, 1) -> basis functions (B, Q, 2K+1)."""
        wavenumbers = torch.arange(1, self.num_modes + 1, dtype=coords.dtype)
        angles = 2 * math.pi * coords * wavenumbers
        return torch.cat([torch.ones_like(coords), angles.cos(), angles.sin()], dim=-1)

    def decode(self, latent: Tensor, query_coords: Tensor) -> Tensor:
        return self.basis(query_coords) @ latent

    def encode(self, fields: Tensor, coords: Tensor, mask: Tensor | None = None) -> Tensor:
        design = self.basis(coords)
        if mask is not None:
            design = design * mask.unsqueeze(-1)
            fields = fields * mask.unsqueeze(-1)
        return torch.linalg.lstsq(design, fields).solution


class PointwiseDecoder(nn.Module):
    """Decodes each query point on its own from the token mean and the point's coordinates."""

    def __init__(self, latent_dim: int, coord_dim: int, channels: int) -> None:
        super().__init__()
        self.head = nn.Linear(latent_dim + coord_dim, channels)

    def forward(self, latent: Tensor, query_coords: Tensor) -> Tensor:
        pooled = latent.mean(dim=1, keepdim=True).expand(-1, query_coords.shape[1], -1)
        return self.head(torch.cat([pooled, query_coords], dim=-1))


class MeanPoolEncoder(nn.Module):
    """Encodes a point cloud through the mean of its points: invariant to their order."""

    def __init__(self, channels: int, coord_dim: int, num_tokens: int, latent_dim: int) -> None:
        super().__init__()
        self.num_tokens, self.latent_dim = num_tokens, latent_dim
        self.head = nn.Linear(channels + coord_dim, num_tokens * latent_dim)

    def forward(self, fields: Tensor, coords: Tensor, mask: Tensor | None = None) -> Tensor:
        points = torch.cat([fields, coords], dim=-1)
        if mask is None:
            pooled = points.mean(dim=1)
        else:
            weights = mask.unsqueeze(-1).to(points.dtype)
            pooled = (points * weights).sum(dim=1) / weights.sum(dim=1)
        return self.head(pooled).unflatten(-1, (self.num_tokens, self.latent_dim))
