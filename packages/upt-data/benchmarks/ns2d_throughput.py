"""2D Navier-Stokes generator throughput (trajectories/s) against a plain numpy port of the same
scheme, and the time to generate a default store.

    uv run python packages/upt-data/benchmarks/ns2d_throughput.py --batch 8 --final-time 4

The torch solver runs a batch at once; the numpy port runs the same scheme (integrating-factor
RK4, 2/3 dealiasing, the same internal grid, time step and initial conditions) one trajectory at a
time with numpy.fft. Both are timed in this one run, so their ratio holds on a noisy, shared
machine. The two solutions are compared too (they must agree to round-off).
"""

import argparse
import math
import time

import numpy as np
import torch

from upt_data.navier_stokes import (
    FORCING_AMPLITUDE,
    gaussian_random_field,
    grid_values,
    solve_navier_stokes,
    velocity,
)


def numpy_solve(w0: np.ndarray, nu: float, times: np.ndarray, cfl: float = 0.5) -> np.ndarray:
    """The same scheme for one trajectory (M, M) -> vorticity at `times` on the internal grid."""
    size = w0.shape[-1]
    k = np.fft.fftfreq(size, d=1.0 / size)
    k_x, k_y = np.meshgrid(k, k, indexing="ij")
    laplacian = 4 * np.pi**2 * (k_x**2 + k_y**2)
    decay = -nu * laplacian
    dealias = (np.abs(k_x) < size / 3) & (np.abs(k_y) < size / 3)
    dropped = (laplacian == 0) | (np.abs(k_x) == size / 2) | (np.abs(k_y) == size / 2)
    inverse_laplacian = np.where(dropped, 0.0, 1.0 / np.where(dropped, 1.0, laplacian))
    x = np.arange(size) / size
    s = 2 * np.pi * (x[:, None] + x[None, :])
    force_hat = np.fft.fft2(FORCING_AMPLITUDE * (np.sin(s) + np.cos(s)))

    def speed(w_hat):
        psi = w_hat * inverse_laplacian
        u = np.fft.ifft2(2j * np.pi * k_y * psi).real
        v = np.fft.ifft2(-2j * np.pi * k_x * psi).real
        return np.sqrt(u**2 + v**2).max()

    def nonlinear(w_hat):
        w_hat = w_hat * dealias
        psi = w_hat * inverse_laplacian
        u = np.fft.ifft2(2j * np.pi * k_y * psi).real
        v = np.fft.ifft2(-2j * np.pi * k_x * psi).real
        w_x = np.fft.ifft2(2j * np.pi * k_x * w_hat).real
        w_y = np.fft.ifft2(2j * np.pi * k_y * w_hat).real
        return -np.fft.fft2(u * w_x + v * w_y) * dealias + force_hat

    w_hat, now, frames = np.fft.fft2(w0), 0.0, []
    for target in times:
        while now < target - 1e-12:
            dt = min(cfl / (size * (speed(w_hat) + 1e-12)), target - now)
            steps = math.ceil((target - now) / dt - 1e-9)
            dt = (target - now) / steps
            half, full = np.exp(decay * dt / 2), np.exp(decay * dt)
            for _ in range(steps):
                k1 = nonlinear(w_hat)
                k2 = nonlinear(half * (w_hat + dt / 2 * k1))
                k3 = nonlinear(half * w_hat + dt / 2 * k2)
                k4 = nonlinear(full * w_hat + dt * half * k3)
                w_hat = full * w_hat + dt / 6 * (full * k1 + 2 * half * (k2 + k3) + k4)
            now = target
        frames.append(np.fft.ifft2(w_hat).real)
    return np.stack(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--final-time", type=float, default=4.0)
    parser.add_argument("--internal", type=int, default=128)
    parser.add_argument("--viscosity", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    initial = gaussian_random_field(args.batch, args.internal, torch.Generator().manual_seed(0))
    times = torch.arange(0.0, args.final_time + 0.5)

    started = time.perf_counter()
    coefficients = solve_navier_stokes(initial, args.viscosity, times)
    torch_seconds = time.perf_counter() - started
    ours = grid_values(coefficients).numpy()

    started = time.perf_counter()
    reference = [numpy_solve(w, args.viscosity, times.numpy()) for w in initial.numpy()]
    numpy_seconds = time.perf_counter() - started

    def without_nyquist(frames: np.ndarray) -> np.ndarray:
        spectrum = np.fft.fft2(frames)
        spectrum[..., args.internal // 2, :] = 0
        spectrum[..., :, args.internal // 2] = 0
        return np.fft.ifft2(spectrum).real

    mismatch = max(
        float(np.abs(without_nyquist(ref) - mine).max())
        for ref, mine in zip(reference, ours, strict=True)
    )
    speed_now = float(torch.sqrt(sum(c**2 for c in velocity(torch.fft.fft2(initial)))).max())
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {args.batch} "
        f"trajectories, {args.internal}^2 internal grid, nu={args.viscosity}, "
        f"t in [0, {args.final_time}], initial max speed {speed_now:.2f}"
    )
    print(f"torch (batched):  {torch_seconds:.2f} s, {args.batch / torch_seconds:.3f} traj/s")
    print(f"numpy (one by one): {numpy_seconds:.2f} s, {args.batch / numpy_seconds:.3f} traj/s")
    print(f"ratio torch / numpy throughput: {numpy_seconds / torch_seconds:.2f}x")
    print(f"largest difference between the two solutions: {mismatch:.2e}")


if __name__ == "__main__":
    main()
