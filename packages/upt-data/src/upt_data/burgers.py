"""Batched solver of PDEBench's viscous Burgers equation.

    u_t + (u^2 / 2)_x = eps u_xx,   eps = nu / pi,   x in [0, 1) periodic.

Values are cell averages over the N cells [j, j + 1) / N (PDEBench stores cell averages at the cell
centres (j + 1/2) / N). Two schemes, both float64, batched over trajectories:

* `spectral`: Fourier pseudo-spectral on an internal grid of M >= N modes, nonlinear term dealiased
  by the 3/2 rule, time stepping by ETDRK4 (Cox & Matthews 2002) with the phi-function coefficients
  from Kassam & Trefethen's (2005) contour integrals. Cell averages on the stored grid come from the
  Fourier coefficients exactly (multiplying by sinc(m / N)).
* `finite-volume`: MUSCL reconstruction (van Leer limiter), the exact Godunov flux of u^2/2, a
  central viscous flux, SSP-RK3 with a step inside the scheme's monotonicity bound, on M = r N
  cells, averaged down to N. It creates no new extrema, so it cannot ring at shocks.

`choose_scheme` picks per nu. A viscous shock of half-jump A is u = -A tanh(A x / (2 eps)); its
poles lie pi eps / A off the real axis, so its Fourier coefficients decay like
exp(-2 pi^2 m eps / A). The spectral scheme is used on the smallest power-of-two M >= N whose
Nyquist tail exp(-pi^2 M eps / A) is below `spectral_tail_tol` (A bounded by max |u0|), provided
that M is at most `max_spectral_refinement` * N; otherwise the finite-volume scheme runs.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import torch

from upt_data.errors import InvalidArgumentError

Scheme = Literal["spectral", "finite-volume"]


class InitialCondition(Protocol):
    """A batch of initial conditions: cell averages on any grid and a bound of max |u0|."""

    @property
    def batch_size(self) -> int: ...

    @property
    def max_abs_bound(self) -> float: ...

    def cell_averages(self, num_cells: int) -> torch.Tensor: ...


@dataclass(frozen=True)
class SchemeChoice:
    """The scheme and its internal number of cells (a multiple of the stored resolution)."""

    scheme: Scheme
    internal_resolution: int


def effective_viscosity(viscosity: float) -> float:
    """PDEBench's nu enters as nu / pi in front of u_xx."""
    return viscosity / math.pi


def choose_scheme(
    viscosity: float,
    resolution: int,
    max_abs_u0: float,
    spectral_tail_tol: float = 1e-8,
    max_spectral_refinement: int = 2,
) -> SchemeChoice:
    """The rule of the module docstring: spectral where a shock is resolved, else finite volume."""
    eps = effective_viscosity(viscosity)
    needed = math.log(1.0 / spectral_tail_tol) * max_abs_u0 / (math.pi**2 * eps)
    internal = resolution
    while internal < needed:
        internal *= 2
    if internal <= max_spectral_refinement * resolution:
        return SchemeChoice("spectral", internal)
    return SchemeChoice("finite-volume", resolution)


def _check_grid(resolution: int, name: str = "resolution") -> None:
    if resolution < 8 or resolution & (resolution - 1):
        raise InvalidArgumentError(f"{name} must be a power of two >= 8, found {resolution}")


def _frame_times(times: torch.Tensor) -> torch.Tensor:
    times = torch.as_tensor(times, dtype=torch.float64)
    if (
        times.ndim != 1
        or times.numel() < 1
        or not bool(torch.isfinite(times).all())
        or times[0] != 0
        or bool((times.diff() <= 0).any())
    ):
        raise InvalidArgumentError(
            "times must be a 1-D finite increasing tensor starting at 0, found "
            f"{times.tolist() if times.numel() < 8 else tuple(times.shape)}"
        )
    return times


# ---------------------------------------------------------------------------------------------
# Spectral ETDRK4


def _sinc(m: torch.Tensor, n: int) -> torch.Tensor:
    """sin(pi m / n) / (pi m / n): the cell-average factor of the mode exp(2 pi i m x)."""
    return torch.sinc(m.double() / n)


def cell_averages_to_modes(averages: torch.Tensor, num_modes: int) -> torch.Tensor:
    """(B, M) cell averages -> (B, num_modes) Fourier coefficients of the point values.

    u(x) = sum_m c_m exp(2 pi i m x); the Nyquist mode is dropped.
    """
    m_cells = averages.shape[-1]
    coeffs = torch.fft.rfft(averages, norm="forward")
    m = torch.arange(coeffs.shape[-1], dtype=torch.float64)
    coeffs = coeffs * torch.exp(-1j * torch.pi * m / m_cells) / _sinc(m, m_cells)
    coeffs[..., m_cells // 2 :] = 0
    out = torch.zeros((*averages.shape[:-1], num_modes), dtype=torch.complex128)
    keep = min(num_modes, coeffs.shape[-1])
    out[..., :keep] = coeffs[..., :keep]
    return out


def modes_to_cell_averages(coeffs: torch.Tensor, num_cells: int) -> torch.Tensor:
    """(B, K) Fourier coefficients -> (B, num_cells) exact cell averages of the band-limited u.

    With K > num_cells / 2 the averages are taken on 2K cells and block-averaged (truncating the
    modes >= num_cells / 2 instead would drop their aliased contribution to the averages).
    """
    fine = max(num_cells, 2 * coeffs.shape[-1])
    if fine % num_cells:
        raise InvalidArgumentError(f"2 * modes ({fine}) must be a multiple of {num_cells}")
    keep = min(coeffs.shape[-1], fine // 2)
    m = torch.arange(keep, dtype=torch.float64)
    c = coeffs[..., :keep] * _sinc(m, fine) * torch.exp(1j * torch.pi * m / fine)
    averages = torch.fft.irfft(c, n=fine, norm="forward")
    return averages.reshape(*averages.shape[:-1], num_cells, fine // num_cells).mean(-1)


def etdrk4_coefficients(
    linear: np.ndarray, dt: float, contour_points: int = 64
) -> tuple[np.ndarray, ...]:
    """Kassam-Trefethen ETDRK4 coefficients (E, E2, Q, f1, f2, f3) for a diagonal linear part.

    `linear` (K,) holds L = -eps k^2; every phi-function is a contour mean over a circle of radius 1
    around each h L, in float64, which avoids the cancellation of the closed forms near L = 0.
    """
    hl = dt * linear.astype(np.float64)
    roots = np.exp(1j * np.pi * (np.arange(1, contour_points + 1) - 0.5) / contour_points)
    lr = hl[:, None] + roots[None, :]
    e_lr = np.exp(lr)
    q = dt * np.real(np.mean((np.exp(lr / 2) - 1) / lr, axis=1))
    f1 = dt * np.real(np.mean((-4 - lr + e_lr * (4 - 3 * lr + lr**2)) / lr**3, axis=1))
    f2 = dt * np.real(np.mean((2 + lr + e_lr * (-2 + lr)) / lr**3, axis=1))
    f3 = dt * np.real(np.mean((-4 - 3 * lr - lr**2 + e_lr * (4 - lr)) / lr**3, axis=1))
    return np.exp(hl), np.exp(hl / 2), q, f1, f2, f3


def spectral_time_step(internal_resolution: int, max_abs_u0: float, cfl: float = 2.0) -> float:
    """Largest ETDRK4 step: advection of the fastest undamped mode, dt = cfl dx / max|u|."""
    return cfl / (internal_resolution * max(max_abs_u0, 1e-12))


def _spectral_solve(
    u0_averages: torch.Tensor,
    eps: float,
    times: torch.Tensor,
    resolution: int,
    max_abs_u0: float,
    cfl: float,
    on_frame: Callable[[], None] | None,
) -> torch.Tensor:
    internal = u0_averages.shape[-1]
    num_modes = internal // 2
    padded = 3 * internal // 2
    m = torch.arange(num_modes, dtype=torch.float64)
    k = 2 * torch.pi * m
    nonlinear_factor = -0.5j * k

    def nonlinear(c: torch.Tensor) -> torch.Tensor:
        u = torch.fft.irfft(c, n=padded, norm="forward")
        return nonlinear_factor * torch.fft.rfft(u * u, norm="forward")[..., :num_modes]

    coeffs = cell_averages_to_modes(u0_averages, num_modes)
    # frame 0 is the initial condition's own cell averages (its band-limited projection would ring
    # at the kinks of the |.| members); later frames are the evolved band-limited solution
    frames = [u0_averages.reshape(*u0_averages.shape[:-1], resolution, -1).mean(-1)]
    dt_max = spectral_time_step(internal, max_abs_u0, cfl)
    cache: dict[int, tuple[torch.Tensor, ...]] = {}
    for interval in times.diff().tolist():
        steps = max(1, math.ceil(interval / dt_max - 1e-9))
        key = round(interval / steps * 1e15)
        if key not in cache:
            numpy_coeffs = etdrk4_coefficients(-eps * k.numpy() ** 2, interval / steps)
            cache[key] = tuple(torch.from_numpy(c) for c in numpy_coeffs)
        e, e2, q, f1, f2, f3 = cache[key]
        for _ in range(steps):
            n_v = nonlinear(coeffs)
            a = e2 * coeffs + q * n_v
            n_a = nonlinear(a)
            b = e2 * coeffs + q * n_a
            n_b = nonlinear(b)
            c = e2 * a + q * (2 * n_b - n_v)
            n_c = nonlinear(c)
            coeffs = e * coeffs + n_v * f1 + 2 * (n_a + n_b) * f2 + n_c * f3
        frames.append(modes_to_cell_averages(coeffs, resolution))
        if on_frame is not None:
            on_frame()
    return torch.stack(frames, dim=1)


# ---------------------------------------------------------------------------------------------
# Finite volume: MUSCL + Godunov + SSP-RK3


def _van_leer_slope(u: torch.Tensor) -> torch.Tensor:
    forward = torch.roll(u, -1, dims=-1) - u
    backward = u - torch.roll(u, 1, dims=-1)
    product = forward * backward
    return torch.where(product > 0, 2 * product / (forward + backward + 1e-300), 0.0)


def _fv_rhs(u: torch.Tensor, eps: float, dx: float) -> torch.Tensor:
    slope = _van_leer_slope(u)
    left = u + 0.5 * slope  # state left of face j + 1/2
    right = torch.roll(u - 0.5 * slope, -1, dims=-1)  # state right of face j + 1/2
    godunov = 0.5 * torch.maximum(left.clamp(min=0) ** 2, right.clamp(max=0) ** 2)
    viscous = -eps * (torch.roll(u, -1, dims=-1) - u) / dx
    flux = godunov + viscous
    return -(flux - torch.roll(flux, 1, dims=-1)) / dx


def finite_volume_time_step(
    internal_resolution: int, eps: float, max_abs_u0: float, cfl: float = 0.4
) -> float:
    """dt with dt (max|u| / dx + 2 eps / dx^2) = cfl, inside the scheme's monotonicity bound."""
    dx = 1.0 / internal_resolution
    return cfl / (max(max_abs_u0, 1e-12) / dx + 2 * eps / dx**2)


def _finite_volume_solve(
    u0_averages: torch.Tensor,
    eps: float,
    times: torch.Tensor,
    resolution: int,
    max_abs_u0: float,
    cfl: float,
    on_frame: Callable[[], None] | None,
) -> torch.Tensor:
    internal = u0_averages.shape[-1]
    factor = internal // resolution
    dx = 1.0 / internal
    dt_max = finite_volume_time_step(internal, eps, max_abs_u0, cfl)

    def downsample(u: torch.Tensor) -> torch.Tensor:
        return u.reshape(*u.shape[:-1], resolution, factor).mean(-1)

    u = u0_averages
    frames = [downsample(u)]
    for interval in times.diff().tolist():
        steps = max(1, math.ceil(interval / dt_max - 1e-9))
        dt = interval / steps
        for _ in range(steps):
            u1 = u + dt * _fv_rhs(u, eps, dx)
            u2 = 0.75 * u + 0.25 * (u1 + dt * _fv_rhs(u1, eps, dx))
            u = u / 3 + 2 / 3 * (u2 + dt * _fv_rhs(u2, eps, dx))
        frames.append(downsample(u))
        if on_frame is not None:
            on_frame()
    return torch.stack(frames, dim=1)


def solve_burgers(
    initial_condition: InitialCondition,
    viscosity: float,
    resolution: int,
    times: torch.Tensor,
    scheme: Scheme | None = None,
    internal_resolution: int | None = None,
    cfl: float | None = None,
    on_frame: Callable[[], None] | None = None,
) -> torch.Tensor:
    """Solve PDEBench Burgers for a batch of initial conditions.

    Returns cell averages (B, T, resolution) float64 at `times` (T,), which must start at 0.
    `scheme` and `internal_resolution` default to `choose_scheme`; `on_frame` is called after each
    stored frame (for progress bars).
    """
    if not 1e-6 <= viscosity <= 100:
        raise InvalidArgumentError(f"viscosity must lie in [1e-6, 100], found {viscosity}")
    _check_grid(resolution)
    if cfl is not None and not (math.isfinite(cfl) and cfl > 0):
        raise InvalidArgumentError(f"cfl must be a positive finite number, found {cfl}")
    times = _frame_times(times)
    bound = float(initial_condition.max_abs_bound)
    if scheme is None:
        choice = choose_scheme(viscosity, resolution, bound)
        scheme = choice.scheme
        internal_resolution = internal_resolution or choice.internal_resolution
    internal_resolution = internal_resolution or resolution
    _check_grid(internal_resolution, "internal_resolution")
    if internal_resolution < resolution:
        raise InvalidArgumentError(
            f"internal_resolution must be >= resolution ({resolution}), found {internal_resolution}"
        )
    if scheme not in ("spectral", "finite-volume"):
        raise InvalidArgumentError(
            f"scheme must be 'spectral' or 'finite-volume', found {scheme!r}"
        )
    u0 = initial_condition.cell_averages(internal_resolution).double()
    eps = effective_viscosity(viscosity)
    # Batched CPU FFTs of this size run far slower with intra-op threads on a loaded machine
    # (upt-data's README has the measurement); one thread here, restored afterwards.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if scheme == "spectral":
            return _spectral_solve(
                u0, eps, times, resolution, bound, 2.0 if cfl is None else cfl, on_frame
            )
        return _finite_volume_solve(
            u0, eps, times, resolution, bound, 0.4 if cfl is None else cfl, on_frame
        )
    finally:
        torch.set_num_threads(threads)
