"""Batched pseudo-spectral solver of 2D incompressible Navier-Stokes in vorticity form, as in the
FNO paper's benchmark (Li et al. 2021, arXiv:2010.08895, section 5.3):

    w_t + u . grad w = nu lap w + f,   u = (psi_y, -psi_x),   -lap psi = w,   on [0, 1)^2 periodic,
    f(x, y) = 0.1 (sin 2 pi (x + y) + cos 2 pi (x + y)).

Fourier pseudo-spectral in float64 on an M x M grid; the product u . grad w is dealiased by the
2/3 rule, so the nonlinear term is an exact Galerkin projection (it conserves energy and
enstrophy); time stepping by the integrating-factor RK4 scheme, which takes the viscous term
exactly. The step of each frame interval is set from the velocity at its start (CFL number
`cfl`). Fields are returned as Fourier coefficients truncated to the stored N x N modes: the
stored field is that band-limited series, exactly, at the grid points and anywhere else
(`evaluate_series`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from upt_data.errors import InvalidArgumentError

FORCING_AMPLITUDE = 0.1


def wavenumbers(size: int, device: torch.device | None = None) -> tuple[Tensor, Tensor]:
    """Integer wavenumbers (k_x, k_y) of an FFT grid of `size` x `size`, each (size, size)."""
    k = torch.fft.fftfreq(size, d=1.0 / size, dtype=torch.float64, device=device)
    return torch.meshgrid(k, k, indexing="ij")


def forcing(size: int, device: torch.device | None = None) -> Tensor:
    """f(x, y) = 0.1 (sin 2 pi (x + y) + cos 2 pi (x + y)) on the grid, (size, size)."""
    x = torch.arange(size, dtype=torch.float64, device=device) / size
    s = 2 * math.pi * (x[:, None] + x[None, :])
    return FORCING_AMPLITUDE * (torch.sin(s) + torch.cos(s))


def velocity(w_hat: Tensor) -> tuple[Tensor, Tensor]:
    """Velocity (u, v) on the grid from vorticity coefficients (..., M, M): u = psi_y, v = -psi_x
    with psi_hat = w_hat / |2 pi k|^2 (the mean of psi is zero). The Nyquist row and column are
    left out: their derivatives are not real fields on the grid."""
    size = w_hat.shape[-1]
    k_x, k_y = wavenumbers(size, w_hat.device)
    laplacian = 4 * math.pi**2 * (k_x**2 + k_y**2)
    dropped = (laplacian == 0) | (k_x.abs() == size / 2) | (k_y.abs() == size / 2)
    psi_hat = torch.where(dropped, 0.0, w_hat / torch.where(dropped, 1.0, laplacian))
    u = torch.fft.ifft2(2j * math.pi * k_y * psi_hat).real
    v = torch.fft.ifft2(-2j * math.pi * k_x * psi_hat).real
    return u, v


class NavierStokes2D:
    """The right-hand side pieces on an M x M grid: the exact viscous factor and the dealiased
    nonlinear term plus forcing, for vorticity coefficients (B, M, M)."""

    def __init__(self, size: int, viscosity: float, forced: bool, device: torch.device) -> None:
        k_x, k_y = wavenumbers(size, device)
        self.size, self.viscosity = size, viscosity
        self.decay = -viscosity * 4 * math.pi**2 * (k_x**2 + k_y**2)
        cutoff = size / 3
        self.dealias = (k_x.abs() < cutoff) & (k_y.abs() < cutoff)
        self.k_x, self.k_y = k_x, k_y
        self.force_hat = torch.fft.fft2(forcing(size, device)) if forced else None

    def nonlinear(self, w_hat: Tensor) -> Tensor:
        """-(u . grad w) + f, in Fourier space, dealiased."""
        w_hat = w_hat * self.dealias
        u, v = velocity(w_hat)
        w_x = torch.fft.ifft2(2j * math.pi * self.k_x * w_hat).real
        w_y = torch.fft.ifft2(2j * math.pi * self.k_y * w_hat).real
        result = -torch.fft.fft2(u * w_x + v * w_y) * self.dealias
        return result if self.force_hat is None else result + self.force_hat

    def step(self, w_hat: Tensor, dt: float) -> Tensor:
        """One integrating-factor RK4 step."""
        half, full = torch.exp(self.decay * dt / 2), torch.exp(self.decay * dt)
        k1 = self.nonlinear(w_hat)
        k2 = self.nonlinear(half * (w_hat + dt / 2 * k1))
        k3 = self.nonlinear(half * w_hat + dt / 2 * k2)
        k4 = self.nonlinear(full * w_hat + dt * half * k3)
        return full * w_hat + dt / 6 * (full * k1 + 2 * half * (k2 + k3) + k4)


def truncate(w_hat: Tensor, size: int) -> Tensor:
    """The modes |k_x|, |k_y| < size / 2 of coefficients on a larger (or equal) even grid, in
    the FFT order and normalization of a `size` x `size` grid; the Nyquist row and column stay
    zero, so the series is real everywhere: (..., size, size)."""
    big = w_hat.shape[-1]
    centred = torch.fft.fftshift(w_hat, dim=(-2, -1))
    low = big // 2 - size // 2
    cropped = centred[..., low : low + size, low : low + size].clone()
    cropped[..., 0, :] = 0
    cropped[..., :, 0] = 0
    return torch.fft.ifftshift(cropped, dim=(-2, -1)) * (size / big) ** 2


def solve_navier_stokes(
    initial: Tensor,
    viscosity: float,
    times: Tensor,
    *,
    resolution: int | None = None,
    forced: bool = True,
    cfl: float = 0.5,
    max_step: float | None = None,
) -> Tensor:
    """Vorticity at `times` (T,) from initial vorticity (B, M, M) on the internal M x M grid.

    Returns Fourier coefficients (B, T, N, N) on the stored grid (N = `resolution`, default M;
    `numpy.fft` normalization of an N x N grid), float64 complex. `max_step` caps the time step.
    """
    if initial.ndim != 3 or initial.shape[-1] != initial.shape[-2]:
        raise InvalidArgumentError(
            f"initial vorticity must be (B, M, M); got {tuple(initial.shape)}"
        )
    size = initial.shape[-1]
    resolution = resolution or size
    if resolution > size or resolution % 2:
        raise InvalidArgumentError(
            f"the stored resolution {resolution} must be even and at most the internal {size}"
        )
    if viscosity <= 0 or not math.isfinite(viscosity):
        raise InvalidArgumentError(f"viscosity must be a positive number; got {viscosity}")
    times = times.to(torch.float64)
    if times.ndim != 1 or len(times) < 1 or (times.diff() <= 0).any() or times[0] < 0:
        raise InvalidArgumentError("times must be a non-negative increasing 1D tensor")
    system = NavierStokes2D(size, viscosity, forced, initial.device)
    w_hat = torch.fft.fft2(initial.to(torch.float64))
    frames, now = [], 0.0
    for target in times.tolist():
        while now < target - 1e-12:
            u, v = velocity(w_hat)
            speed = float(torch.sqrt(u**2 + v**2).max()) + 1e-12
            dt = min(cfl / (size * speed), target - now, max_step or math.inf)
            steps = math.ceil((target - now) / dt - 1e-9)
            dt = (target - now) / steps
            for _ in range(steps):
                w_hat = system.step(w_hat, dt)
            now = target
        frames.append(truncate(w_hat, resolution))
    return torch.stack(frames, dim=1)


def grid_values(w_hat: Tensor) -> Tensor:
    """The field on its own N x N grid from coefficients (..., N, N)."""
    return torch.fft.ifft2(w_hat).real


def evaluate_series(w_hat: Tensor, points: Tensor) -> Tensor:
    """The band-limited field of coefficients (..., N, N) (as `truncate` leaves them: Nyquist
    modes zero) at points (P, 2) in [0, 1)^2: (..., P).

    Exact, with no interpolation: sum_k w_hat_k exp(2 pi i k . x) / N^2, done one axis at a time.
    """
    size = w_hat.shape[-1]
    k = torch.fft.fftfreq(size, d=1.0 / size, dtype=torch.float64, device=w_hat.device)
    phase_x = torch.exp(2j * math.pi * points[:, :1].double() * k)  # (P, N)
    phase_y = torch.exp(2j * math.pi * points[:, 1:].double() * k)
    rows = torch.einsum("pk,...kl->...pl", phase_x, w_hat.to(torch.complex128))
    return (rows * phase_y).sum(-1).real / size**2


def gaussian_random_field(batch: int, size: int, generator: torch.Generator) -> Tensor:
    """Initial vorticity as in the FNO benchmark: N(0, 7^(3/2) (-lap + 49 I)^(-2.5)) on the
    periodic unit square (their GaussianRF(2, size, alpha=2.5, tau=7)), (batch, size, size)."""
    alpha, tau = 2.5, 7.0
    sigma = tau ** (0.5 * (2 * alpha - 2))
    k_x, k_y = wavenumbers(size)
    sqrt_eig = (
        size**2
        * math.sqrt(2.0)
        * sigma
        * (4 * math.pi**2 * (k_x**2 + k_y**2) + tau**2) ** (-alpha / 2)
    )
    sqrt_eig[0, 0] = 0.0
    noise = torch.randn(batch, size, size, 2, generator=generator, dtype=torch.float64)
    coefficients = sqrt_eig * torch.complex(noise[..., 0], noise[..., 1])
    return torch.fft.ifft2(coefficients).real


def upsample(values: Tensor, size: int) -> Tensor:
    """Grid values (..., N, N) of a band-limited field without Nyquist modes (as stored) ->
    its exact values on a finer `size` x `size` grid of nodes j / size."""
    small = values.shape[-1]
    centred = torch.fft.fftshift(torch.fft.fft2(values.double()), dim=(-2, -1))
    centred[..., 0, :] = 0
    centred[..., :, 0] = 0
    padded = centred.new_zeros((*values.shape[:-2], size, size))
    low = size // 2 - small // 2
    padded[..., low : low + small, low : low + small] = centred
    return torch.fft.ifft2(torch.fft.ifftshift(padded, dim=(-2, -1))).real * (size / small) ** 2
