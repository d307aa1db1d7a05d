"""Geometry shared between the passes of one training step.

A training step with UPT's inverse losses decodes at the same query points more than once (every
unrolled step) and may encode again at the very points it encoded first (inverse decoding at
every point), decodes the first stepped latent twice (the loss and inverse decoding), and runs
each block stack's relative position bias once per pass. What depends only on the points (the
neighbour search and the learned kernel weights of the grid latent's pooling and readout), only
on the latent (the decoder's blocks) or only on the parameters (the biases) is the same each time;
`SharedGeometry` keeps it for the length of a `UPT.sharing_geometry()` block, keyed by the
identity of the coordinate (and mask) tensors: no value is compared, so nothing waits on the
device. Keys that are the first samples of held keys (`x[:n]`, the same memory, as when the
inverse losses see part of a batch) get the held value's first samples: everything kept is per
sample, batch first. Kernel weights keep their graph, so gradients from every use add up as they
would have.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor


def leading_samples(key: Tensor, held: Tensor) -> int | None:
    """n when `key` is `held[:n]` (the same memory and layout, read from the shapes and strides
    alone), else None."""
    same_layout = (
        key.device == held.device
        and key.dtype == held.dtype
        and key.data_ptr() == held.data_ptr()
        and key.shape[1:] == held.shape[1:]
        and key.stride() == held.stride()
    )
    return key.shape[0] if same_layout and 0 < key.shape[0] <= held.shape[0] else None


def first_samples(value: Any, n: int) -> Any:
    """`value[:n]` for a tensor, element by element for a tuple or list of them."""
    if isinstance(value, Tensor):
        return value[:n]
    return type(value)(first_samples(item, n) for item in value)


class SharedGeometry:
    """A memo of `compute()` results keyed by tensor identity (or first samples of a held key,
    see the module), active between `start` and `stop`; outside that, `get` computes every
    time."""

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
        for held, value in self.entries:
            if (n := self._leading(keys, held)) is not None:
                return first_samples(value, n)
        value = compute()
        self.entries.append((keys, value))
        return value

    @staticmethod
    def _leading(keys: tuple[Tensor | None, ...], held: tuple[Tensor | None, ...]) -> int | None:
        """n when every key is the first n samples of its held key (None where both are None)."""
        if len(held) != len(keys) or not keys:
            return None
        counts = set()
        for key, kept in zip(keys, held, strict=True):
            if key is None or kept is None:
                if key is not kept:
                    return None
                continue
            counts.add(leading_samples(key, kept))
        return counts.pop() if len(counts) == 1 and None not in counts else None
