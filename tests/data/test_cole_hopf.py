"""The Cole-Hopf reference checked without the Burgers solver: IC averages, one explicit step,
convergence of its quadrature, and an independent method-of-lines solve (scipy)."""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from upt_data.cole_hopf import cole_hopf_cell_averages
from upt_data.errors import InvalidArgumentError
from upt_data.initial_conditions import SineSum

MODES = (np.array([0.6, -0.4]), np.array([1.0, 3.0]), np.array([0.3, 1.7]))


def _u(x: np.ndarray) -> np.ndarray:
    a, k, p = MODES
    return sum(a_ * np.sin(2 * np.pi * k_ * x + p_) for a_, k_, p_ in zip(a, k, p, strict=True))


def _du(x: np.ndarray, order: int) -> np.ndarray:
    a, k, p = MODES
    out = np.zeros_like(x)
    for a_, k_, p_ in zip(a, k, p, strict=True):
        w = 2 * np.pi * k_
        out += a_ * w**order * np.sin(w * x + p_ + order * np.pi / 2)
    return out


def test_time_zero_reproduces_the_initial_cell_averages() -> None:
    exact = cole_hopf_cell_averages(*MODES, 0.01, np.array([0.0]), 256)[0]
    sines = SineSum(*(torch.tensor(v[None, :]) for v in MODES))
    quadrature = sines.cell_averages(256)[0].numpy()  # Gauss-Legendre: another code path
    np.testing.assert_allclose(exact, quadrature, rtol=0, atol=1e-13)


@pytest.mark.parametrize("eps", [0.1 / math.pi, 0.001 / math.pi])
def test_a_tiny_time_matches_one_explicit_step(eps: float) -> None:
    """(u(t) - u0) / t -> cell average of -(u0^2/2)_x + eps u0_xx, with an O(t) error."""
    n = 64
    faces = np.arange(n + 1) / n
    flux = -0.5 * _u(faces) ** 2 + eps * _du(faces, 1)
    rate = np.diff(flux) * n  # exact cell average of the right-hand side at t = 0
    u0 = cole_hopf_cell_averages(*MODES, eps, np.array([0.0]), n)[0]
    defects = []
    for t in (4e-4, 2e-4, 1e-4):
        u = cole_hopf_cell_averages(*MODES, eps, np.array([t]), n)[0]
        defects.append(np.abs((u - u0) / t - rate).max() / np.abs(rate).max())
    assert defects[-1] < 3e-3, defects
    # first-order defect: halving t halves it
    assert np.log2(defects[0] / defects[1]) == pytest.approx(1.0, abs=0.1), defects
    assert np.log2(defects[1] / defects[2]) == pytest.approx(1.0, abs=0.1), defects


def test_quadrature_is_converged() -> None:
    eps, times = 0.01 / math.pi, np.array([0.3, 1.0, 2.0])
    coarse = cole_hopf_cell_averages(*MODES, eps, times, 128)
    fine = cole_hopf_cell_averages(*MODES, eps, times, 128, points_per_width=18.0)
    np.testing.assert_allclose(coarse, fine, rtol=0, atol=1e-12)


def test_agrees_with_an_independent_method_of_lines_solve() -> None:
    """Pseudo-spectral MOL (numpy FFT, 2/3-dealiased, DOP853 at rtol 1e-12), nu = 0.1."""
    eps, n, times = 0.1 / math.pi, 32, np.array([0.0, 0.25, 0.5])
    x = np.arange(4 * n) / (4 * n)  # point values on a 4x finer grid, 2/3-dealiased
    k = 2 * np.pi * np.fft.rfftfreq(4 * n, 1 / (4 * n))
    keep = np.abs(k) < (2 / 3) * np.pi * 4 * n
    lin = -eps * k**2

    def rhs(t: float, v: np.ndarray) -> np.ndarray:
        c = v[: k.size] + 1j * v[k.size :]
        u = np.fft.irfft(c * keep, n=4 * n)
        dc = (lin * c - 0.5j * k * np.fft.rfft(u * u)) * keep
        return np.concatenate([dc.real, dc.imag])

    c0 = np.fft.rfft(_u(x))
    sol = solve_ivp(
        rhs, (0, times[-1]), np.concatenate([c0.real, c0.imag]), "DOP853",
        t_eval=times, rtol=1e-12, atol=1e-12,
    )  # fmt: skip
    exact = cole_hopf_cell_averages(*MODES, eps, times, n)
    for i, t in enumerate(times):
        c = (sol.y[: k.size, i] + 1j * sol.y[k.size :, i]) * keep
        m = np.arange(k.size)
        # cell averages of the band-limited solution on n cells from its point-value modes
        fine = np.fft.irfft(c * np.sinc(m / (4 * n)) * np.exp(1j * np.pi * m / (4 * n)), 4 * n)
        averages = fine.reshape(n, 4).mean(-1)
        error = np.linalg.norm(averages - exact[i]) / np.linalg.norm(exact[i])
        assert error < 1e-9, (t, error)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"wavenumbers": np.array([0.5, 3.0])}, "wavenumbers must be integers"),
        ({"eps": 0.0}, "eps must be a positive"),
        ({"eps": float("nan")}, "eps must be a positive"),
        ({"times": np.array([-1.0])}, "times must be"),
        ({"resolution": 0}, "resolution must be"),
        ({"phases": np.array([0.1])}, "one length"),
    ],
)
def test_bad_arguments_are_rejected(kwargs: dict, message: str) -> None:
    arguments = {
        "amplitudes": MODES[0],
        "wavenumbers": MODES[1],
        "phases": MODES[2],
        "eps": 0.01,
        "times": np.array([0.0, 0.1]),
        "resolution": 16,
    }
    with pytest.raises(InvalidArgumentError, match=message):
        cole_hopf_cell_averages(**(arguments | kwargs))
