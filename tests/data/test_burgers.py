"""The Burgers solver against the Cole-Hopf exact solution; convergence orders; invariants."""

import math

import numpy as np
import pytest
import torch

from upt_data.burgers import choose_scheme, solve_burgers
from upt_data.cole_hopf import cole_hopf_cell_averages
from upt_data.errors import InvalidArgumentError
from upt_data.initial_conditions import PDEBenchSineFamily, SineSum

SINE = ([1.0], [1.0], [0.0])
TWO_MODES = ([0.6, 0.4], [1.0, 3.0], [0.3, 1.7])


def _sine_sum(amplitudes, wavenumbers, phases) -> SineSum:
    return SineSum(
        torch.tensor([amplitudes], dtype=torch.float64),
        torch.tensor([wavenumbers], dtype=torch.float64),
        torch.tensor([phases], dtype=torch.float64),
    )


def _relative_l2(u: np.ndarray, reference: np.ndarray) -> float:
    return float(np.linalg.norm(u - reference) / np.linalg.norm(reference))


@pytest.mark.parametrize("viscosity", [0.1, 0.01])
@pytest.mark.parametrize("modes", [SINE, TWO_MODES], ids=["sine", "two-modes"])
def test_matches_cole_hopf_at_1024_points(viscosity: float, modes: tuple) -> None:
    times = torch.linspace(0.0, 2.0, 201)[::40]
    u = solve_burgers(_sine_sum(*modes), viscosity, 1024, times)[0].numpy()
    exact = cole_hopf_cell_averages(*modes, viscosity / math.pi, times.numpy(), 1024)
    assert _relative_l2(u, exact) < 1e-5


def _observed_orders(errors: list[float], ratio: float = 2.0) -> np.ndarray:
    return np.log(np.array(errors[:-1]) / np.array(errors[1:])) / math.log(ratio)


def test_etdrk4_is_fourth_order_in_time() -> None:
    viscosity, resolution, final_time = 0.1, 64, 0.5
    times = torch.tensor([0.0, final_time])
    exact = cole_hopf_cell_averages(*SINE, viscosity / math.pi, times.numpy(), resolution)[-1]
    errors = []
    for steps in (8, 16, 32, 64):
        # spectral_time_step = cfl / (resolution * max|u0|), max|u0| = 1: exactly `steps` steps
        cfl = resolution * final_time / steps
        u = solve_burgers(_sine_sum(*SINE), viscosity, resolution, times, "spectral", cfl=cfl)
        errors.append(_relative_l2(u[0, -1].numpy(), exact))
    orders = _observed_orders(errors)
    assert orders[-1] == pytest.approx(4.0, abs=0.3), (errors, orders)
    assert np.all(np.diff(errors) < 0)


def test_spectral_convergence_in_space() -> None:
    viscosity, times = 0.1, torch.tensor([0.0, 0.5])
    errors = []
    for resolution in (8, 16, 32, 64):
        exact = cole_hopf_cell_averages(*SINE, viscosity / math.pi, times.numpy(), resolution)[-1]
        u = solve_burgers(
            _sine_sum(*SINE), viscosity, resolution, times, "spectral", cfl=resolution / 1280
        )
        errors.append(_relative_l2(u[0, -1].numpy(), exact))
    orders = _observed_orders(errors)
    # exponential convergence: the algebraic order keeps growing with each doubling
    assert np.all(np.diff(orders) > 2), (errors, orders)
    assert errors[-1] < 1e-10


def test_finite_volume_is_second_order_in_space() -> None:
    viscosity, times = 0.1, torch.tensor([0.0, 0.5])
    errors = []
    for resolution in (32, 64, 128):
        exact = cole_hopf_cell_averages(*SINE, viscosity / math.pi, times.numpy(), resolution)[-1]
        u = solve_burgers(_sine_sum(*SINE), viscosity, resolution, times, "finite-volume")
        errors.append(_relative_l2(u[0, -1].numpy(), exact))
    assert _observed_orders(errors) == pytest.approx([2.0, 2.0], abs=0.2), errors


@pytest.fixture(scope="module")
def family_batch() -> PDEBenchSineFamily:
    return PDEBenchSineFamily.sample(12, np.random.default_rng(7))


@pytest.mark.parametrize(
    ("viscosity", "scheme"), [(0.1, "spectral"), (0.01, "spectral"), (0.001, "finite-volume")]
)
def test_mass_conserved_and_energy_never_grows(
    family_batch: PDEBenchSineFamily, viscosity: float, scheme: str
) -> None:
    u = solve_burgers(family_batch, viscosity, 256, torch.linspace(0.0, 2.0, 51), scheme)
    mass = u.mean(-1)
    energy = (u**2).mean(-1)
    assert torch.allclose(mass, mass[:, :1], rtol=0, atol=1e-12)
    assert bool((energy.diff(dim=1) <= 1e-12).all())
    assert bool((energy[:, -1] < energy[:, 0]).all())


def test_no_overshoot_at_the_lowest_viscosity(family_batch: PDEBenchSineFamily) -> None:
    assert choose_scheme(0.001, 1024, family_batch.max_abs_bound).scheme == "finite-volume"
    u = solve_burgers(family_batch, 0.001, 256, torch.linspace(0.0, 2.0, 21))
    initial_max = u[:, 0].amax(-1, keepdim=True)
    initial_min = u[:, 0].amin(-1, keepdim=True)
    assert bool((u.amax(-1) <= initial_max + 1e-12).all())
    assert bool((u.amin(-1) >= initial_min - 1e-12).all())
    # shocks form: the steepest jump between neighbouring cells is a sizeable part of the range
    jumps = (u[:, -1] - torch.roll(u[:, -1], 1, dims=-1)).abs().amax(-1)
    assert bool((jumps > 0.1 * (initial_max - initial_min).squeeze(-1)).any())


def test_scheme_rule_follows_the_shock_width() -> None:
    assert choose_scheme(0.1, 1024, 2.0).scheme == "spectral"
    assert choose_scheme(0.01, 1024, 2.0).internal_resolution == 2048
    assert choose_scheme(0.001, 1024, 2.0).scheme == "finite-volume"


def test_batching_does_not_change_a_trajectory(family_batch: PDEBenchSineFamily) -> None:
    times = torch.linspace(0.0, 0.2, 5)
    together = solve_burgers(family_batch, 0.05, 64, times)
    first = PDEBenchSineFamily(
        SineSum(
            *(
                t[:1]
                for t in (
                    family_batch.sines.amplitudes,
                    family_batch.sines.wavenumbers,
                    family_batch.sines.phases,
                )
            )
        ),
        *(
            t[:1]
            for t in (
                family_batch.use_abs,
                family_batch.sign,
                family_batch.use_window,
                family_batch.window_left,
                family_batch.window_right,
            )
        ),
    )
    alone = solve_burgers(first, 0.05, 64, times)
    torch.testing.assert_close(alone[0], together[0], rtol=0, atol=1e-13)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"viscosity": -1.0}, "viscosity"),
        ({"resolution": 100}, "power of two"),
        ({"times": torch.tensor([0.5, 1.0])}, "starting at 0"),
        ({"scheme": "upwind"}, "scheme"),
        ({"internal_resolution": 32}, "internal_resolution"),
    ],
)
def test_bad_arguments_are_rejected(kwargs: dict, message: str) -> None:
    arguments = {
        "initial_condition": _sine_sum(*SINE),
        "viscosity": 0.1,
        "resolution": 64,
        "times": torch.tensor([0.0, 0.1]),
    }
    with pytest.raises(InvalidArgumentError, match=message):
        solve_burgers(**(arguments | kwargs))


@pytest.mark.parametrize("viscosity", [0.1, 0.01])
def test_production_path_matches_cole_hopf_at_each_time(viscosity: float) -> None:
    """The generator's exact call (family bound 2, 201 frames on [0, 2], 1024 points), per time.

    Draws from the family without |.| and window are sine sums, so Cole-Hopf applies. The first
    mode is forced to k = 1 so the solution stays well above round-off at t = 2 (a pure k = 4
    solution at nu = 0.1 decays to ~1e-14, where a relative error is meaningless).
    """
    family = PDEBenchSineFamily.sample(2, np.random.default_rng(11))
    wavenumbers = family.sines.wavenumbers.clone()
    wavenumbers[:, 0] = 1.0
    off = torch.zeros(2, dtype=torch.bool)
    family = PDEBenchSineFamily(
        SineSum(family.sines.amplitudes, wavenumbers, family.sines.phases),
        off,
        family.sign,
        off,
        family.window_left,
        family.window_right,
    )
    times = torch.linspace(0.0, 2.0, 201)
    u = solve_burgers(family, viscosity, 1024, times).numpy()
    checked = [50, 100, 200]  # t = 0.5, 1, 2
    for b in range(2):
        amplitudes = (family.sines.amplitudes[b] * family.sign[b]).numpy()
        exact = cole_hopf_cell_averages(
            amplitudes,
            wavenumbers[b].numpy(),
            family.sines.phases[b].numpy(),
            viscosity / math.pi,
            times.numpy()[checked],
            1024,
        )
        errors = np.linalg.norm(u[b, checked] - exact, axis=-1) / np.linalg.norm(exact, axis=-1)
        assert np.all(errors < 1e-5), errors


@pytest.mark.parametrize(
    ("batch_size", "rng", "message"),
    [(0, np.random.default_rng(0), "batch_size"), (2, 3, "Generator")],
)
def test_family_sample_rejects_bad_arguments(batch_size: int, rng: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        PDEBenchSineFamily.sample(batch_size, rng)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"times": torch.tensor([0.0, float("nan")])}, "finite"),
        ({"cfl": 0.0}, "cfl"),
        ({"viscosity": float("nan")}, "viscosity"),
    ],
)
def test_more_bad_arguments_are_rejected(kwargs: dict, message: str) -> None:
    arguments = {
        "initial_condition": _sine_sum(*SINE),
        "viscosity": 0.1,
        "resolution": 64,
        "times": torch.tensor([0.0, 0.1]),
    }
    with pytest.raises(InvalidArgumentError, match=message):
        solve_burgers(**(arguments | kwargs))


def test_first_frame_is_the_initial_condition_without_ringing() -> None:
    """A |sin| member (kinks at its zeros) must not ring in frame 0 of a spectral solve."""
    family = PDEBenchSineFamily.sample(1, np.random.default_rng(0))
    on = torch.ones(1, dtype=torch.bool)
    off = torch.zeros(1, dtype=torch.bool)
    kinked = PDEBenchSineFamily(
        family.sines, on, torch.ones(1, dtype=torch.float64), off, family.window_left,
        family.window_right,
    )  # fmt: skip
    assert choose_scheme(0.01, 1024, 2.0).scheme == "spectral"
    u = solve_burgers(kinked, 0.01, 1024, torch.tensor([0.0, 0.01]))
    fine = kinked.cell_averages(choose_scheme(0.01, 1024, 2.0).internal_resolution)
    torch.testing.assert_close(u[0, 0], fine[0].reshape(1024, -1).mean(-1), rtol=0, atol=1e-14)
    assert float(u[0, 0].min()) >= 0.0
