"""Weights as safetensors with the model config as JSON metadata; never pickles.

Reading goes through safetensors' own parser (`safe_open`); its errors become `CheckpointError`
with the path and a readable reason. An untrusted file never costs more memory than the model
it honestly describes: the stored config is built on the meta device first, every tensor's name
and shape in the header is checked against it, and only then is the model allocated and filled.
Non-finite weights are refused.
"""

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from upt_models.upt import UPT, UPTConfig

FORMAT = "upt-models/1"


class CheckpointError(ValueError):
    """A checkpoint file that is missing, unreadable, or does not match the model."""


def save_upt(model: UPT, path: str | os.PathLike) -> None:
    """Write `model`'s weights to `path` (safetensors) with its config as metadata."""
    tensors = {name: t.detach().contiguous() for name, t in model.state_dict().items()}
    metadata = {"format": FORMAT, "config": json.dumps(model.config.to_dict())}
    save_file(tensors, os.fspath(path), metadata=metadata)


def read_header(path: str | os.PathLike) -> tuple[dict[str, str], dict[str, list[int]]]:
    """The metadata and the shape of every tensor of a safetensors file, read without loading
    any tensor. Raises CheckpointError for a missing, truncated or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        with safe_open(path, framework="pt") as handle:
            metadata = handle.metadata() or {}
            shapes = {name: list(handle.get_slice(name).get_shape()) for name in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(
            f"{path}: not a readable safetensors file (truncated, corrupt or foreign): {error}"
        ) from error
    return metadata, shapes


def read_config(path: str | os.PathLike) -> UPTConfig:
    """The model config stored in a checkpoint written by `save_upt`."""
    return _config_from_metadata(path, read_header(path)[0])


def _config_from_metadata(path: str | os.PathLike, metadata: dict[str, str]) -> UPTConfig:
    if metadata.get("format") != FORMAT or "config" not in metadata:
        raise CheckpointError(
            f"{path}: no upt-models metadata (format {metadata.get('format')!r},"
            f" expected {FORMAT!r}): not written by save_upt"
        )
    try:
        return UPTConfig.from_dict(json.loads(metadata["config"]))
    except (json.JSONDecodeError, TypeError, ValueError, AttributeError) as error:
        raise CheckpointError(f"{path}: stored config is invalid: {error}") from error


def _first_difference(stored: Any, expected: Any, prefix: str = "") -> str | None:
    if isinstance(stored, dict) and isinstance(expected, dict):
        for key in sorted(set(stored) | set(expected)):
            name = f"{prefix}.{key}" if prefix else key
            if key not in stored or key not in expected:
                return name
            if (found := _first_difference(stored[key], expected[key], name)) is not None:
                return found
        return None
    return None if stored == expected else prefix


def _check_shapes(path: str | os.PathLike, config: UPTConfig, found: dict[str, list[int]]) -> None:
    """Compare the header's tensors with those of the model `config` describes, built on the
    meta device (no memory)."""
    with torch.device("meta"):
        expected = {name: list(t.shape) for name, t in UPT(config).state_dict().items()}
    for name in sorted(set(expected) | set(found)):
        if name not in found:
            raise CheckpointError(f"{path}: missing tensor {name!r} (shape {expected[name]})")
        if name not in expected:
            raise CheckpointError(f"{path}: unexpected tensor {name!r} not in the model")
        if found[name] != expected[name]:
            raise CheckpointError(
                f"{path}: tensor {name!r} has shape {found[name]}, the model "
                f"expects {expected[name]}"
            )


def load_upt(path: str | os.PathLike, config: UPTConfig | None = None) -> UPT:
    """Build a UPT from the config stored in `path` and load its weights.

    With `config`, the stored config must equal it; the first differing field is named otherwise.
    Tensor names and shapes are checked against the model before it is allocated; weights that
    are not finite are refused.
    """
    metadata, shapes = read_header(path)
    stored = _config_from_metadata(path, metadata)
    if config is not None and config != stored:
        field = _first_difference(stored.to_dict(), config.to_dict())
        raise CheckpointError(
            f"{path}: config mismatch at {field!r}: file has "
            f"{_lookup(stored.to_dict(), field)!r}, expected "
            f"{_lookup(config.to_dict(), field)!r}"
        )
    _check_shapes(path, stored, shapes)
    model = UPT(stored)
    try:
        with safe_open(path, framework="pt") as handle:
            tensors = {name: handle.get_tensor(name) for name in shapes}
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: unreadable tensor data: {error}") from error
    bad = [name for name, t in tensors.items() if t.is_floating_point() and not t.isfinite().all()]
    if bad:
        raise CheckpointError(
            f"{path}: tensors {bad[:3]} hold NaN or Inf; the weights are unusable"
        )
    model.load_state_dict(tensors)
    return model


def _lookup(data: dict[str, Any], dotted: str | None) -> Any:
    for key in (dotted or "").split("."):
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data
