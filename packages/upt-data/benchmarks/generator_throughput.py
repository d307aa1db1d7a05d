"""Burgers generator throughput (trajectories/s) against a plain numpy reference of the same solve.

    uv run python packages/upt-data/benchmarks/generator_throughput.py --viscosity 0.01

The torch solver runs a batch of trajectories at once; the reference runs the same scheme (same
internal grid, time step and initial conditions) one trajectory at a time with numpy.fft / numpy
arrays. Both are timed in this one run, so their ratio holds on a noisy, shared machine.
`--final-time` shortens the horizon (throughput scales as 1 / final time).
"""

import argparse
import math
import time

import numpy as np
import torch

from upt_data.burgers import (
    cell_averages_to_modes,
    choose_scheme,
    effective_viscosity,
    etdrk4_coefficients,
    finite_volume_time_step,
    solve_burgers,
    spectral_time_step,
)
from upt_data.initial_conditions import PDEBenchSineFamily


def numpy_spectral(u0_avg: np.ndarray, eps: float, final_time: float, frames: int, dt: float):
    internal = u0_avg.shape[-1]
    modes, padded = internal // 2, 3 * internal // 2
    k = 2 * np.pi * np.arange(modes)
    c = cell_averages_to_modes(torch.from_numpy(u0_avg[None]), modes)[0].numpy()
    interval = final_time / (frames - 1)
    steps = max(1, math.ceil(interval / dt - 1e-9))
    e, e2, q, f1, f2, f3 = etdrk4_coefficients(-eps * k**2, interval / steps)

    def nonlinear(v):
        u = np.fft.irfft(v, n=padded, norm="forward")
        return -0.5j * k * np.fft.rfft(u * u, norm="forward")[:modes]

    out = []
    for _ in range(frames - 1):
        for _ in range(steps):
            nv = nonlinear(c)
            a = e2 * c + q * nv
            na = nonlinear(a)
            b = e2 * c + q * na
            nb = nonlinear(b)
            cc = e2 * a + q * (2 * nb - nv)
            nc = nonlinear(cc)
            c = e * c + nv * f1 + 2 * (na + nb) * f2 + nc * f3
        out.append(c.copy())
    return out


def numpy_finite_volume(u: np.ndarray, eps: float, final_time: float, frames: int, dt: float):
    dx = 1.0 / u.shape[-1]

    def rhs(v):
        fwd = np.roll(v, -1) - v
        bwd = v - np.roll(v, 1)
        prod = fwd * bwd
        slope = np.where(prod > 0, 2 * prod / (fwd + bwd + 1e-300), 0.0)
        left, right = v + 0.5 * slope, np.roll(v - 0.5 * slope, -1)
        flux = 0.5 * np.maximum(np.maximum(left, 0) ** 2, np.minimum(right, 0) ** 2)
        flux = flux - eps * fwd / dx
        return -(flux - np.roll(flux, 1)) / dx

    interval = final_time / (frames - 1)
    steps = max(1, math.ceil(interval / dt - 1e-9))
    h = interval / steps
    out = []
    for _ in range(frames - 1):
        for _ in range(steps):
            u1 = u + h * rhs(u)
            u2 = 0.75 * u + 0.25 * (u1 + h * rhs(u1))
            u = u / 3 + 2 / 3 * (u2 + h * rhs(u2))
        out.append(u.copy())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viscosity", type=float, default=0.01)
    parser.add_argument("--resolution", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--reference-trajectories", type=int, default=2)
    parser.add_argument("--final-time", type=float, default=2.0)
    args = parser.parse_args()
    frames = round(args.final_time / 0.01) + 1
    times = torch.linspace(0.0, args.final_time, frames)
    initial = PDEBenchSineFamily.sample(args.batch, np.random.default_rng(0))
    choice = choose_scheme(args.viscosity, args.resolution, initial.max_abs_bound)
    eps = effective_viscosity(args.viscosity)

    started = time.perf_counter()
    solve_burgers(initial, args.viscosity, args.resolution, times)
    torch_rate = args.batch / (time.perf_counter() - started)

    u0 = initial.cell_averages(choice.internal_resolution).numpy()
    started = time.perf_counter()
    for row in u0[: args.reference_trajectories]:
        if choice.scheme == "spectral":
            dt = spectral_time_step(choice.internal_resolution, initial.max_abs_bound)
            numpy_spectral(row, eps, args.final_time, frames, dt)
        else:
            dt = finite_volume_time_step(choice.internal_resolution, eps, initial.max_abs_bound)
            numpy_finite_volume(row, eps, args.final_time, frames, dt)
    numpy_rate = args.reference_trajectories / (time.perf_counter() - started)
    print(
        f"nu={args.viscosity} N={args.resolution} scheme={choice.scheme} "
        f"internal={choice.internal_resolution} t_final={args.final_time}: "
        f"torch batch {args.batch}: {torch_rate:.3f} traj/s, numpy per trajectory: "
        f"{numpy_rate:.3f} traj/s, ratio {torch_rate / numpy_rate:.2f}x"
    )


if __name__ == "__main__":
    main()
