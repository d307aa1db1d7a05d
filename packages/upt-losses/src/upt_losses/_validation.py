"""Argument checks for the inverse losses: a mismatch raises a ValueError naming the shapes."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

import torch
from torch import Tensor


def shape_of(tensor: Tensor) -> tuple[int, ...]:
    """The shape of `tensor` as a plain tuple, for error messages."""
    return tuple(tensor.shape)


def check_rank3(name: str, tensor: Tensor, axes: str) -> None:
    """Require a tensor of rank 3, e.g. axes "(B, N, C)"."""
    if not isinstance(tensor, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape {axes}; got {type(tensor).__name__}"
        )
    if tensor.ndim != 3:
        raise ValueError(f"{name} must have shape {axes}; got {shape_of(tensor)}")


def check_points(
    fields_name: str, fields: Tensor | None, coords_name: str, coords: Tensor
) -> tuple[int, int]:
    """Check coords (B, N, d) and, if given, fields (B, N, C) on the same points; return (B, N)."""
    check_rank3(coords_name, coords, "(B, N, d)")
    if not coords.is_floating_point():
        raise ValueError(f"{coords_name} must be a floating-point tensor; got dtype {coords.dtype}")
    batch, num_points, _ = coords.shape
    if num_points == 0:
        raise ValueError(f"{coords_name} holds no points: shape {shape_of(coords)}")
    if fields is not None:
        check_rank3(fields_name, fields, "(B, N, C)")
        if fields.shape[:2] != coords.shape[:2]:
            raise ValueError(
                f"{fields_name} {shape_of(fields)} and {coords_name} {shape_of(coords)} must share "
                f"their first two axes (B, N) = ({batch}, {num_points})"
            )
    return batch, num_points


def check_latent(latent: Tensor, batch: int, points_name: str) -> None:
    """Require latent (B, L, D) with the batch size of the point tensors."""
    check_rank3("latent", latent, "(B, L, D)")
    if latent.shape[0] != batch:
        raise ValueError(
            f"latent {shape_of(latent)} has batch size {latent.shape[0]} but {points_name} "
            f"has batch size {batch}"
        )


def check_mask(mask: Tensor | None, batch: int, num_points: int) -> None:
    """None (all points real) or a bool (B, N) tensor with at least one real point per sample."""
    if mask is None:
        return
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        found = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise ValueError(
            f"mask must be a bool tensor of shape (B, N) (True = real point); got {found}"
        )
    if mask.shape != (batch, num_points):
        raise ValueError(
            f"mask must have shape (B, N) = ({batch}, {num_points}); got {shape_of(mask)}"
        )
    empty_rows = (~mask.any(dim=1)).nonzero().flatten().tolist()
    if empty_rows:
        raise ValueError(
            f"mask rows {empty_rows} have no real points; every sample needs at least one"
        )


def check_num_query_points(num_query_points: int | None) -> None:
    """None (all points) or a positive int."""
    if num_query_points is None:
        return
    if isinstance(num_query_points, bool) or not isinstance(num_query_points, int):
        raise ValueError(
            f"num_query_points must be a positive int or None; got {num_query_points!r}"
        )
    if num_query_points < 1:
        raise ValueError(
            f"num_query_points must be at least 1 (or None for all points); got {num_query_points}"
        )


def check_weight(weight: float) -> None:
    """A finite, non-negative number."""
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise ValueError(f"weight must be a number; got {weight!r}")
    if not math.isfinite(weight) or weight < 0:
        raise ValueError(f"weight must be finite and non-negative; got {weight}")


def check_output(name: str, output: object, expected: tuple[int | None, ...], axes: str) -> Tensor:
    """Check what a user's encoder or decoder returned; None in `expected` matches any size."""
    if not isinstance(output, Tensor):
        raise ValueError(
            f"{name} must return a torch.Tensor of shape {axes}; got {type(output).__name__}"
        )
    matches = output.ndim == len(expected) and all(
        want is None or want == got for want, got in zip(expected, output.shape, strict=True)
    )
    if not matches:
        wanted = tuple("*" if want is None else want for want in expected)
        raise ValueError(f"{name} must return shape {axes} = {wanted}; got {shape_of(output)}")
    return output


def accepts_mask(encoder: Callable[..., Tensor]) -> bool:
    """Whether `encoder` takes a `mask=` keyword (True when its signature cannot be read)."""
    target = encoder.forward if isinstance(encoder, torch.nn.Module) else encoder
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "mask" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
