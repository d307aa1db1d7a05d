"""Exact solution of viscous Burgers by the Cole-Hopf transform, as cell averages (numpy only).

u = -2 eps (ln phi)_x with phi_t = eps phi_xx and phi0 = exp(-F / (2 eps)), F(x) = integral_0^x u0.
By the heat kernel, ln phi(x, t) = const + logsumexp_y [-(x - y)^2 / (4 eps t) - F(y) / (2 eps)],
so the cell average of u over [a, b] is -2 eps (ln phi(b) - ln phi(a)) / (b - a) exactly. The
integral is evaluated in the log domain (no overflow of exp(F / 2 eps) at small eps) by the
trapezoidal rule on a uniform grid finer than the integrand's narrowest peak, which converges
geometrically for a smooth integrand decaying on the whole line. Valid for zero-mean sums of sines,
whose F is periodic. Where the solution has decayed to ~1e-13 of its initial size (large nu and k,
late t) the result is accurate only to that absolute level (differences of ln phi).
"""

import numpy as np

from upt_data.errors import InvalidArgumentError


def _antiderivative(x: np.ndarray, amplitudes, wavenumbers, phases) -> np.ndarray:
    out = np.zeros_like(x)
    for a, k, p in zip(amplitudes, wavenumbers, phases, strict=True):
        w = 2 * np.pi * k
        out += a / w * (np.cos(p) - np.cos(w * x + p))
    return out


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    peak = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(peak, axis) + np.log(np.sum(np.exp(a - peak), axis=axis))


def cole_hopf_cell_averages(
    amplitudes: np.ndarray,
    wavenumbers: np.ndarray,
    phases: np.ndarray,
    eps: float,
    times: np.ndarray,
    resolution: int,
    points_per_width: float = 6.0,
) -> np.ndarray:
    """Exact cell averages (T, resolution) for u0 = sum_i a_i sin(2 pi k_i x + phi_i), k_i >= 1."""
    amplitudes, wavenumbers, phases = (
        np.asarray(v, dtype=np.float64) for v in (amplitudes, wavenumbers, phases)
    )
    if not (amplitudes.shape == wavenumbers.shape == phases.shape and amplitudes.ndim == 1):
        raise InvalidArgumentError(
            "amplitudes, wavenumbers and phases must be 1-D of one length, found shapes "
            f"{amplitudes.shape}, {wavenumbers.shape}, {phases.shape}"
        )
    if np.any(wavenumbers < 1) or np.any(wavenumbers != np.round(wavenumbers)):
        raise InvalidArgumentError(f"wavenumbers must be integers >= 1, found {wavenumbers}")
    if not (np.isfinite(eps) and eps > 0):
        raise InvalidArgumentError(f"eps must be a positive finite number, found {eps}")
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1 or not np.all(np.isfinite(times)) or np.any(times < 0):
        raise InvalidArgumentError(f"times must be 1-D, finite and >= 0, found {times}")
    if resolution < 1:
        raise InvalidArgumentError(f"resolution must be >= 1, found {resolution}")
    faces = np.arange(resolution + 1, dtype=np.float64) / resolution
    spread = np.ptp(_antiderivative(np.linspace(0, 1, 4097), amplitudes, wavenumbers, phases))
    max_slope = float(np.sum(2 * np.pi * wavenumbers * np.abs(amplitudes)))
    frames = []
    for t in times:
        if t == 0:
            log_phi = -_antiderivative(faces, amplitudes, wavenumbers, phases) / (2 * eps)
        else:
            width = np.sqrt(2 * eps / (1 / t + max_slope))
            radius = np.sqrt(2 * t * spread + 200 * eps * t)
            offsets = np.arange(
                -radius, radius + width / points_per_width, width / points_per_width
            )
            y = faces[:, None] + offsets[None, :]
            exponent = -(offsets[None, :] ** 2) / (4 * eps * t) - _antiderivative(
                y, amplitudes, wavenumbers, phases
            ) / (2 * eps)
            log_phi = _logsumexp(exponent, axis=1)
        frames.append(-2 * eps * np.diff(log_phi) * resolution)
    return np.stack(frames)
