"""Geometry shared between the passes of one training step.

A training step with UPT's inverse losses decodes at the same query points more than once (every
unrolled step) and may encode again at the very points it encoded first (inverse decoding at
every point), decodes the first stepped latent twice (the loss and inverse decoding), and runs
each block stack's relative position bias once per pass. What depends only on the points (the
neighbour search and the learned kernel weights of the grid latent's pooling and readout), only
on the latent (the decoder's blocks) or only on the parameters (the biases) is the same each time;
`SharedGeometry` keeps it for the length of a `UPT.sharing_geometry()` block, keyed by the
identity of the coordinate (and mask) tensors: no value is compared, so nothing waits on the
device, and torch.compile traces it. When the inverse losses see part of a batch, their inputs
are first-sample views made through `FirstSamples` (`x[:n]`, recorded as made): a key made of
such views gets the held value's first n samples, since everything kept is per sample, batch
first. Kernel weights keep their graph, so gradients from every use add up as they would have.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor


class FirstSamples:
    """Makes first-sample views `x[:n]`, one per tensor and n, and remembers, by identity, what
    each is a view of."""

    def __init__(self) -> None:
        self.made: list[tuple[Tensor, Tensor, int]] = []  # (view, base, n)

    def of(self, tensor: Tensor, n: int) -> Tensor:
        for view, base, count in self.made:
            if base is tensor and count == n:
                return view
        view = tensor[:n]
        self.made.append((view, tensor, n))
        return view

    def count(self, key: Tensor, held: Tensor) -> int | None:
        """n when `key` was made as `held[:n]`, else None."""
        for view, base, n in self.made:
            if view is key and base is held:
                return n
        return None


def first_samples(value: Any, n: int) -> Any:
    """`value[:n]` for a tensor, element by element for a tuple or list of them."""
    if isinstance(value, Tensor):
        return value[:n]
    return type(value)(first_samples(item, n) for item in value)


class SharedGeometry:
    """A memo of `compute()` results keyed by tensor identity (or by first-sample views of a
    held key, see the module), active between `start` and `stop`; outside that, `get` computes
    every time."""

    def __init__(self) -> None:
        self.entries: list[tuple[tuple[Tensor | None, ...], Any]] | None = None
        self.views = FirstSamples()

    def start(self, views: FirstSamples | None = None) -> None:
        self.entries = []
        self.views = FirstSamples() if views is None else views

    def stop(self) -> None:
        self.entries = None
        self.views = FirstSamples()

    def get(self, keys: tuple[Tensor | None, ...], compute: Callable[[], Any]) -> Any:
        if self.entries is None:
            return compute()
        for held, value in self.entries:
            if len(held) == len(keys) and all(a is b for a, b in zip(held, keys, strict=True)):
                return value
        if self.views.made:
            for held, value in self.entries:
                if (n := self._first(keys, held)) is not None:
                    return first_samples(value, n)
        value = compute()
        self.entries.append((keys, value))
        return value

    def _first(
        self, keys: tuple[Tensor | None, ...], held: tuple[Tensor | None, ...]
    ) -> int | None:
        """n when every key is a view of the first n samples of its held key (or the held key
        itself, or None where that is None), and at least one is a view."""
        if len(held) != len(keys):
            return None
        counts = set()
        for key, kept in zip(keys, held, strict=True):
            if key is kept:
                continue
            if key is None or kept is None:
                return None
            counts.add(self.views.count(key, kept))
        return counts.pop() if len(counts) == 1 and None not in counts else None
