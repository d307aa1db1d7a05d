"""Continuous sin-cos embedding of coordinates (or scalars) in any number of dimensions."""

import torch
from einops import rearrange
from torch import Tensor, nn


class SincosEmbedding(nn.Module):
    """Transformer-style sin-cos features of continuous positions, split evenly over the axes.

    Each of the `num_axes` axes gets `2 * f` channels (f frequencies from 1 down to
    1 / max_wavelength); leftover channels (when `dim` does not split evenly) are zero.
    Inputs are multiplied by `scale` first: with `scale=1000` inputs in [0, 1] span the
    frequency range the way token indices do in a language model.
    """

    def __init__(
        self, dim: int, num_axes: int, scale: float = 1000.0, max_wavelength: float = 10_000.0
    ) -> None:
        super().__init__()
        num_freqs = dim // num_axes // 2
        if num_freqs < 1:
            raise ValueError(f"dim={dim} is too small for {num_axes} axes; need >= {2 * num_axes}")
        self.dim, self.num_axes, self.scale = dim, num_axes, scale
        exponents = torch.arange(num_freqs, dtype=torch.float64) / num_freqs
        self.register_buffer("omega", (max_wavelength**-exponents).float(), persistent=False)

    def forward(self, positions: Tensor) -> Tensor:
        """positions (..., num_axes) -> embedding (..., dim)."""
        if positions.shape[-1] != self.num_axes:
            raise ValueError(
                f"expected positions with {self.num_axes} axes in the last dimension; "
                f"got shape {tuple(positions.shape)}"
            )
        angles = positions.float()[..., None] * self.scale * self.omega
        features = rearrange([angles.sin(), angles.cos()], "two ... ax f -> ... (ax two f)")
        padding = self.dim - features.shape[-1]
        return nn.functional.pad(features, (0, padding)) if padding else features


class PeriodicEmbedding(nn.Module):
    """Features of positions on the periodic unit cube: sin(2 pi k x) and cos(2 pi k x) for
    k = 1 .. f on each of the `num_axes` axes (f = dim // (2 num_axes)); leftover channels are
    zero. Exactly periodic, so positions x and x + 1 embed alike."""

    def __init__(self, dim: int, num_axes: int) -> None:
        super().__init__()
        num_freqs = dim // num_axes // 2
        if num_freqs < 1:
            raise ValueError(f"dim={dim} is too small for {num_axes} axes; need >= {2 * num_axes}")
        self.dim, self.num_axes = dim, num_axes
        wavenumbers = 2 * torch.pi * torch.arange(1, num_freqs + 1, dtype=torch.float32)
        self.register_buffer("wavenumbers", wavenumbers, persistent=False)

    def forward(self, positions: Tensor) -> Tensor:
        """positions (..., num_axes) -> embedding (..., dim)."""
        angles = positions.float()[..., None] * self.wavenumbers
        features = rearrange([angles.sin(), angles.cos()], "two ... ax f -> ... (ax two f)")
        padding = self.dim - features.shape[-1]
        return nn.functional.pad(features, (0, padding)) if padding else features
