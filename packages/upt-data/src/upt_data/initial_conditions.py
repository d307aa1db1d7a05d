"""Initial conditions on the periodic unit interval, given as exact-to-quadrature cell averages.

`PDEBenchSineFamily` reproduces the random family of PDEBench's 1D Burgers data (Takamoto et al.
2022, `init_multi`): u0(x) = s * w(x) * g(sum_{i=1,2} a_i sin(2 pi k_i x + phi_i)) with
k_i ~ U{1..4}, a_i ~ U(0, 1), phi_i ~ U(0, 2 pi), g = |.| with probability 0.1 (identity otherwise),
a random sign s = +-1, and with probability 0.1 a tanh window
w(x) = (tanh((x - x_l) / 0.01) - tanh((x - x_r) / 0.01)) / 2
with x_l ~ U(0.1, 0.45), x_r ~ U(0.55, 0.9) (w = 1 otherwise). |u0| <= 2 for every member.
"""

from dataclasses import dataclass

import numpy as np
import torch

from upt_data.errors import InvalidArgumentError

PDEBENCH_FAMILY = "pdebench-sine-2mode"
_WINDOW_WIDTH = 0.01
_QUADRATURE_NODES = 4


def _cell_quadrature(num_cells: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gauss-Legendre nodes (num_cells, q) and weights (q,) averaging over each cell of [0, 1)."""
    nodes, weights = np.polynomial.legendre.leggauss(_QUADRATURE_NODES)
    left = torch.arange(num_cells, dtype=torch.float64)[:, None] / num_cells
    x = left + (torch.from_numpy(nodes)[None, :] + 1.0) / (2.0 * num_cells)
    return x, torch.from_numpy(weights) / 2.0


@dataclass(frozen=True)
class SineSum:
    """u0(x) = sum_i amplitudes[..., i] * sin(2 pi wavenumbers[..., i] x + phases[..., i]).

    All three tensors have shape (B, K); the batch has B trajectories.
    """

    amplitudes: torch.Tensor
    wavenumbers: torch.Tensor
    phases: torch.Tensor

    def __post_init__(self) -> None:
        shapes = {self.amplitudes.shape, self.wavenumbers.shape, self.phases.shape}
        if len(shapes) != 1 or self.amplitudes.ndim != 2:
            raise InvalidArgumentError(
                "SineSum expects amplitudes, wavenumbers and phases of one shape (B, K); found "
                f"{[tuple(t.shape) for t in (self.amplitudes, self.wavenumbers, self.phases)]}"
            )

    @property
    def batch_size(self) -> int:
        return self.amplitudes.shape[0]

    @property
    def max_abs_bound(self) -> float:
        """An upper bound of max |u0| over the batch."""
        return float(self.amplitudes.abs().sum(-1).max())

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Point values at x (...,) -> (B, ...)."""
        shape = (self.batch_size,) + (1,) * x.ndim
        terms = [
            self.amplitudes[:, i].reshape(shape).double()
            * torch.sin(
                2 * torch.pi * self.wavenumbers[:, i].reshape(shape).double() * x
                + self.phases[:, i].reshape(shape).double()
            )
            for i in range(self.amplitudes.shape[1])
        ]
        return torch.stack(terms).sum(0)

    def cell_averages(self, num_cells: int) -> torch.Tensor:
        """Averages of u0 over the cells [j, j + 1) / num_cells: (B, num_cells) float64."""
        x, w = _cell_quadrature(num_cells)
        return (self(x) * w).sum(-1)


@dataclass(frozen=True)
class PDEBenchSineFamily:
    """A batch of B members of PDEBench's Burgers initial-condition family (module docstring).

    `sines` holds the two modes; `use_abs`, `sign`, `use_window` (B,) and `window_left`,
    `window_right` (B,) hold the rest of each draw.
    """

    sines: SineSum
    use_abs: torch.Tensor
    sign: torch.Tensor
    use_window: torch.Tensor
    window_left: torch.Tensor
    window_right: torch.Tensor

    @classmethod
    def sample(cls, batch_size: int, rng: np.random.Generator) -> "PDEBenchSineFamily":
        """Draw batch_size members from rng (a numpy Generator, so draws are seed-reproducible)."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgumentError(f"batch_size must be an int >= 1, found {batch_size!r}")
        if not isinstance(rng, np.random.Generator):
            raise InvalidArgumentError(
                f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), found "
                f"{type(rng).__name__}"
            )
        wavenumbers = rng.integers(1, 5, size=(batch_size, 2))
        amplitudes = rng.uniform(0.0, 1.0, size=(batch_size, 2))
        phases = rng.uniform(0.0, 2 * np.pi, size=(batch_size, 2))
        use_abs = rng.uniform(size=batch_size) < 0.1
        sign = rng.choice(np.array([1.0, -1.0]), size=batch_size)
        use_window = rng.uniform(size=batch_size) < 0.1
        window_left = rng.uniform(0.1, 0.45, size=batch_size)
        window_right = rng.uniform(0.55, 0.9, size=batch_size)
        t = torch.from_numpy
        return cls(
            SineSum(t(amplitudes), t(wavenumbers).double(), t(phases)),
            t(use_abs),
            t(sign),
            t(use_window),
            t(window_left),
            t(window_right),
        )

    @property
    def batch_size(self) -> int:
        return self.sines.batch_size

    @property
    def max_abs_bound(self) -> float:
        """|u0| <= 2 for the family; independent of the draw, so batching never changes a solve."""
        return 2.0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Point values at x (...,) -> (B, ...)."""
        shape = (self.batch_size,) + (1,) * x.ndim
        u = self.sines(x)
        u = torch.where(self.use_abs.reshape(shape), u.abs(), u)
        u = u * self.sign.reshape(shape)
        window = 0.5 * (
            torch.tanh((x - self.window_left.reshape(shape)) / _WINDOW_WIDTH)
            - torch.tanh((x - self.window_right.reshape(shape)) / _WINDOW_WIDTH)
        )
        return torch.where(self.use_window.reshape(shape), u * window, u)

    def cell_averages(self, num_cells: int) -> torch.Tensor:
        """Gauss-Legendre averages over the cells [j, j + 1) / num_cells: (B, num_cells)."""
        x, w = _cell_quadrature(num_cells)
        return (self(x) * w).sum(-1)
