"""Irregular point clouds on the periodic unit square: a mesh or particle set stand-in.

Each cloud has its own number of points and a non-uniform density: a uniform background plus
Gaussian clusters of random centre and width, and, with some probability, holes (disks where no
point lies). Distances wrap around the periodic square.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from upt_data.errors import InvalidArgumentError


@dataclass(frozen=True)
class CloudSpec:
    """How the clouds are drawn: point counts in [min_points, max_points]; a fraction
    U(background) of them uniform, the rest in 1..max_clusters Gaussian clusters of standard
    deviation U(cluster_width); with probability `hole_probability` up to `max_holes` disks of
    radius U(hole_radius) are emptied."""

    min_points: int = 1000
    max_points: int = 3000
    background: tuple[float, float] = (0.2, 0.6)
    max_clusters: int = 4
    cluster_width: tuple[float, float] = (0.04, 0.15)
    hole_probability: float = 0.5
    max_holes: int = 2
    hole_radius: tuple[float, float] = (0.06, 0.14)

    def __post_init__(self) -> None:
        if not 1 <= self.min_points <= self.max_points <= 1_000_000:
            raise InvalidArgumentError(
                f"need 1 <= min_points <= max_points <= 1000000, found {self.min_points}, "
                f"{self.max_points}"
            )
        if not 0 <= self.hole_probability <= 1 or self.max_clusters < 1 or self.max_holes < 0:
            raise InvalidArgumentError(
                "hole_probability in [0, 1], max_clusters >= 1, max_holes >= 0"
            )


def _uniform(bounds: tuple[float, float], generator: torch.Generator) -> float:
    low, high = bounds
    return low + (high - low) * float(torch.rand((), generator=generator, dtype=torch.float64))


def _wrapped_distance(points: Tensor, centre: Tensor) -> Tensor:
    delta = points - centre
    delta = delta - delta.round()
    return delta.norm(dim=-1)


def sample_cloud(spec: CloudSpec, generator: torch.Generator) -> Tensor:
    """One cloud (n, 2) float64 in [0, 1)^2, n uniform in [min_points, max_points], sorted
    lexicographically (x, then y) so that the stored order does not depend on how it was drawn."""
    count = int(torch.randint(spec.min_points, spec.max_points + 1, (), generator=generator))
    holes = []
    if float(torch.rand((), generator=generator)) < spec.hole_probability and spec.max_holes:
        for _ in range(int(torch.randint(1, spec.max_holes + 1, (), generator=generator))):
            centre = torch.rand(2, generator=generator, dtype=torch.float64)
            holes.append((centre, _uniform(spec.hole_radius, generator)))
    background = _uniform(spec.background, generator)
    num_clusters = int(torch.randint(1, spec.max_clusters + 1, (), generator=generator))
    centres = torch.rand(num_clusters, 2, generator=generator, dtype=torch.float64)
    widths = torch.tensor([_uniform(spec.cluster_width, generator) for _ in range(num_clusters)])
    kept: list[Tensor] = []
    total = 0
    while total < count:
        batch = 2 * count
        uniform = torch.rand(batch, 2, generator=generator, dtype=torch.float64)
        which = torch.randint(num_clusters, (batch,), generator=generator)
        clustered = centres[which] + widths[which, None] * torch.randn(
            batch, 2, generator=generator, dtype=torch.float64
        )
        pick = torch.rand(batch, generator=generator) < background
        points = torch.where(pick[:, None], uniform, clustered).remainder(1.0)
        for centre, radius in holes:
            points = points[_wrapped_distance(points, centre) > radius]
        kept.append(points)
        total += len(points)
    cloud = torch.cat(kept)[:count]
    order = torch.argsort(cloud[:, 1], stable=True)
    cloud = cloud[order]
    return cloud[torch.argsort(cloud[:, 0], stable=True)]
