"""Geometry shared between the passes of one training step.

A training step with UPT's inverse losses decodes at the same query points more than once (every
unrolled step) and may encode again at the very points it encoded first (inverse decoding at
every point), decodes the first stepped latent twice (the loss and inverse decoding), and runs
each block stack's relative position bias once per pass. What depends only on the points (the
neighbour search and the learned kernel weights of the grid latent's pooling and readout), only
on the latent (the decoder's blocks) or only on the parameters (the biases) is the same each time;
`SharedGeometry` keeps it for the length of a `UPT.sharing_geometry()` block, keyed by the
identity of the coordinate (and mask) tensors: no value is compared, so nothing waits on the
device. Kernel weights keep
their graph, so gradients from every use add up as they would have.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor


class SharedGeometry:
    """A memo of `compute()` results keyed by tensor identity, active between `start` and
    `stop`; outside that, `get` computes every time."""

    def __init__(self) -> None:
        self.entries: list[tuple[tuple[Tensor | None, ...], Any]] | None = None

    def start(self) -> None:
        self.entries = []

    def stop(self) -> None:
        self.entries = None

    def get(self, keys: tuple[Tensor | None, ...], compute: Callable[[], Any]) -> Any:
        if self.entries is None:
            return compute()
        for held, value in self.entries:
            if len(held) == len(keys) and all(a is b for a, b in zip(held, keys, strict=True)):
                return value
        value = compute()
        self.entries.append((keys, value))
        return value
