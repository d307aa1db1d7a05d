"""The 2D Navier-Stokes solver against independent facts: the Taylor-Green vortex's exact decay,
fourth-order convergence in time, a divergence-free velocity, the enstrophy budget, exact
evaluation of the stored series, and the statistics of the initial Gaussian random field."""

import itertools
import math

import numpy as np
import pytest
import torch

from upt_data.errors import InvalidArgumentError
from upt_data.navier_stokes import (
    FORCING_AMPLITUDE,
    evaluate_series,
    forcing,
    gaussian_random_field,
    grid_values,
    solve_navier_stokes,
    truncate,
    upsample,
    velocity,
    wavenumbers,
)


def grid(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.arange(size, dtype=torch.float64) / size
    return torch.meshgrid(x, x, indexing="ij")


def band_limited_field(size: int, seed: int = 0) -> torch.Tensor:
    """A smooth random vorticity whose modes lie inside the 2/3 dealiasing band, (size, size)."""
    field = gaussian_random_field(1, size, torch.Generator().manual_seed(seed))[0]
    k_x, k_y = wavenumbers(size)
    band = (k_x.abs() < size / 3) & (k_y.abs() < size / 3)
    return grid_values(torch.fft.fft2(field) * band)


def test_the_taylor_green_vortex_decays_exactly() -> None:
    """Unforced w0 = A cos(2 pi x) cos(2 pi y): u . grad w = 0, so w(t) = w0 exp(-8 pi^2 nu t)."""
    x, y = grid(32)
    initial = (3.0 * torch.cos(2 * math.pi * x) * torch.cos(2 * math.pi * y))[None]
    times = torch.tensor([0.5, 1.0, 2.0])
    solution = grid_values(solve_navier_stokes(initial, 0.01, times, forced=False))
    for index, t in enumerate(times.tolist()):
        exact = initial[0] * math.exp(-8 * math.pi**2 * 0.01 * t)
        torch.testing.assert_close(solution[0, index], exact, rtol=0, atol=1e-12)


def test_time_stepping_is_fourth_order() -> None:
    initial = gaussian_random_field(2, 32, torch.Generator().manual_seed(1))
    times = torch.tensor([1.0])

    def solve(step: float) -> torch.Tensor:
        coefficients = solve_navier_stokes(initial, 1e-3, times, cfl=100.0, max_step=step)
        return grid_values(coefficients)

    reference = solve(1 / 512)
    errors = [float((solve(1 / n) - reference).abs().max()) for n in (16, 32, 64)]
    orders = [math.log2(a / b) for a, b in itertools.pairwise(errors)]
    assert all(3.7 < order < 4.3 for order in orders), (errors, orders)


def test_the_velocity_is_divergence_free_and_recovers_the_vorticity() -> None:
    field = gaussian_random_field(3, 32, torch.Generator().manual_seed(2))
    w_hat = torch.fft.fft2(field)
    u, v = velocity(w_hat)
    k_x, k_y = wavenumbers(32)
    u_hat, v_hat = torch.fft.fft2(u), torch.fft.fft2(v)
    divergence = torch.fft.ifft2(2j * math.pi * (k_x * u_hat + k_y * v_hat)).real
    assert float(divergence.abs().max()) < 1e-12 * float(u.abs().max())
    curl = torch.fft.ifft2(2j * math.pi * (k_x * v_hat - k_y * u_hat)).real  # v_x - u_y
    without_nyquist = grid_values(truncate(w_hat, 32))  # the modes a velocity can carry
    torch.testing.assert_close(
        curl, without_nyquist - without_nyquist.mean(dim=(-2, -1), keepdim=True), atol=1e-10, rtol=0
    )


def test_the_enstrophy_budget_closes() -> None:
    """dZ/dt = -nu <|grad w|^2> + <f w> for Z = <w^2> / 2 (the dealiased nonlinear term
    conserves enstrophy): Z(T) - Z(0) against the trapezoid integral of the right-hand side."""
    size, nu = 32, 0.01
    initial = band_limited_field(size)[None]
    times = torch.linspace(0, 0.5, 401)
    coefficients = solve_navier_stokes(initial, nu, times[1:], cfl=0.2)
    w_hat = torch.cat([truncate(torch.fft.fft2(initial), size)[:, None], coefficients], dim=1)[0]
    w = grid_values(w_hat)
    k_x, k_y = wavenumbers(size)
    gradient_squared = sum(
        torch.fft.ifft2(2j * math.pi * k * w_hat).real ** 2 for k in (k_x, k_y)
    ).mean(dim=(-2, -1))
    rate = -nu * gradient_squared + (forcing(size) * w).mean(dim=(-2, -1))
    enstrophy = 0.5 * (w**2).mean(dim=(-2, -1))
    change = float(enstrophy[-1] - enstrophy[0])
    integral = float(torch.trapezoid(rate, times.double()))
    assert abs(change - integral) < 1e-5 * max(abs(change), float(enstrophy[0]))


def test_the_stored_series_is_exact_at_any_point() -> None:
    w_hat = truncate(torch.fft.fft2(band_limited_field(64, seed=3)), 16)
    x, y = grid(16)
    on_grid = evaluate_series(w_hat, torch.stack([x.flatten(), y.flatten()], dim=-1))
    torch.testing.assert_close(on_grid.reshape(16, 16), grid_values(w_hat), atol=1e-12, rtol=0)
    # off the grid: against a direct sum over the retained modes
    points = torch.rand(7, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    k = torch.fft.fftfreq(16, d=1 / 16, dtype=torch.float64)
    direct = [
        sum(
            complex(w_hat[a, b]) * np.exp(2j * np.pi * (float(k[a]) * px + float(k[b]) * py))
            for a in range(16)
            for b in range(16)
        ).real
        / 256
        for px, py in points.tolist()
    ]
    torch.testing.assert_close(
        evaluate_series(w_hat, points), torch.tensor(direct), atol=1e-12, rtol=0
    )


def test_the_initial_field_has_the_fno_covariance() -> None:
    """Pointwise variance of N(0, 7^1.5 (-lap + 49)^-2.5) on a 32 x 32 grid: sum of the
    eigenvalues over the grid's modes (zero mean mode), against 400 samples."""
    samples = gaussian_random_field(400, 32, torch.Generator().manual_seed(4))
    k_x, k_y = wavenumbers(32)
    eigenvalues = 7.0**3 * 2 * (4 * math.pi**2 * (k_x**2 + k_y**2) + 49.0) ** -2.5
    eigenvalues[0, 0] = 0
    expected = float(eigenvalues.sum())
    measured = float(samples.var(dim=0).mean())
    assert abs(measured / expected - 1) < 0.05
    assert float(samples.mean(dim=(-2, -1)).abs().max()) < 1e-12


def test_forcing_is_the_benchmark_s() -> None:
    x, y = grid(8)
    expected = FORCING_AMPLITUDE * (
        torch.sin(2 * math.pi * (x + y)) + torch.cos(2 * math.pi * (x + y))
    )
    torch.testing.assert_close(forcing(8), expected)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"initial": torch.zeros(2, 8, 6)}, "must be \\(B, M, M\\)"),
        ({"viscosity": 0.0}, "viscosity must be a positive number"),
        ({"times": torch.tensor([1.0, 0.5])}, "increasing"),
        ({"resolution": 16}, "at most the internal 8"),
    ],
)
def test_bad_arguments(arguments: dict, message: str) -> None:
    values = {"initial": torch.zeros(1, 8, 8), "viscosity": 1e-3, "times": torch.tensor([1.0])}
    values |= arguments
    initial, viscosity, times = values.pop("initial"), values.pop("viscosity"), values.pop("times")
    with pytest.raises(InvalidArgumentError, match=message):
        solve_navier_stokes(initial, viscosity, times, **values)


def test_upsampling_gives_the_series_at_the_finer_nodes() -> None:
    w_hat = truncate(torch.fft.fft2(band_limited_field(64, seed=5)), 16)
    fine = upsample(grid_values(w_hat), 48)
    x, y = grid(48)
    exact = evaluate_series(w_hat, torch.stack([x.flatten(), y.flatten()], dim=-1))
    torch.testing.assert_close(fine, exact.reshape(48, 48), atol=1e-12, rtol=0)
