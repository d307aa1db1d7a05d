"""Weights as safetensors with the model config as JSON metadata; never pickles.

The header is validated here before safetensors parses the file, so a truncated or foreign file
raises `CheckpointError` with a readable message.
"""

import json
import math
import os
import struct
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from upt_models.upt import UPT, UPTConfig

FORMAT = "upt-models/1"
_DTYPE_BYTES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}
_MAX_HEADER_BYTES = 100_000_000


class CheckpointError(ValueError):
    """A checkpoint file is unreadable or does not match the model."""


def save_upt(model: UPT, path: str | os.PathLike) -> None:
    """Write `model`'s weights to `path` (safetensors) with its config as metadata."""
    tensors = {name: t.detach().contiguous() for name, t in model.state_dict().items()}
    metadata = {"format": FORMAT, "config": json.dumps(model.config.to_dict())}
    save_file(tensors, os.fspath(path), metadata=metadata)


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """Parse and validate a safetensors header: tensor entries and `__metadata__`."""
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as file:
        prefix = file.read(8)
        if len(prefix) < 8:
            raise CheckpointError(f"{path}: {size} bytes is too short for a safetensors file")
        (header_len,) = struct.unpack("<Q", prefix)
        if header_len > min(size - 8, _MAX_HEADER_BYTES):
            raise CheckpointError(
                f"{path}: header length {header_len} exceeds the file ({size} bytes): "
                "truncated or not a safetensors file"
            )
        raw = file.read(header_len)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(
            f"{path}: header is not valid JSON ({error}): not a safetensors file"
        ) from error
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: header is not a JSON object: not a safetensors file")
    data_bytes = size - 8 - header_len
    end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        _check_entry(path, name, entry, data_bytes)
        end = max(end, entry["data_offsets"][1])
    if end != data_bytes:
        raise CheckpointError(
            f"{path}: tensors cover {end} bytes but the file holds {data_bytes} "
            "data bytes: truncated or corrupt"
        )
    return header


def _check_entry(path: Path, name: str, entry: Any, data_bytes: int) -> None:
    ok = (
        isinstance(entry, dict)
        and entry.get("dtype") in _DTYPE_BYTES
        and isinstance(entry.get("shape"), list)
        and isinstance(entry.get("data_offsets"), list)
        and len(entry["data_offsets"]) == 2
    )
    if not ok:
        raise CheckpointError(f"{path}: malformed header entry for tensor {name!r}: {entry!r}")
    start, stop = entry["data_offsets"]
    expected = math.prod(entry["shape"]) * _DTYPE_BYTES[entry["dtype"]]
    if not 0 <= start <= stop or stop - start != expected:
        raise CheckpointError(
            f"{path}: tensor {name!r} has offsets {entry['data_offsets']} for "
            f"{expected} bytes of {entry['dtype']}{entry['shape']}"
        )
    if stop > data_bytes:
        raise CheckpointError(
            f"{path}: tensor {name!r} ends at byte {stop} but the file holds "
            f"only {data_bytes} data bytes: truncated"
        )


def read_config(path: str | os.PathLike) -> UPTConfig:
    """The model config stored in a checkpoint written by `save_upt`."""
    return _config_from_header(path, read_header(path))


def _config_from_header(path: str | os.PathLike, header: dict[str, Any]) -> UPTConfig:
    metadata = header.get("__metadata__") or {}
    if metadata.get("format") != FORMAT or "config" not in metadata:
        raise CheckpointError(
            f"{path}: no upt-models metadata (format {metadata.get('format')!r},"
            f" expected {FORMAT!r}): not written by save_upt"
        )
    try:
        return UPTConfig.from_dict(json.loads(metadata["config"]))
    except (json.JSONDecodeError, TypeError, ValueError) as error:
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


def load_upt(path: str | os.PathLike, config: UPTConfig | None = None) -> UPT:
    """Build a UPT from the config stored in `path` and load its weights.

    With `config`, the stored config must equal it; the first differing field is named otherwise.
    Tensor names and shapes are checked against the model before loading.
    """
    header = read_header(path)
    stored = _config_from_header(path, header)
    if config is not None and config != stored:
        field = _first_difference(stored.to_dict(), config.to_dict())
        raise CheckpointError(
            f"{path}: config mismatch at {field!r}: file has "
            f"{_lookup(stored.to_dict(), field)!r}, expected "
            f"{_lookup(config.to_dict(), field)!r}"
        )
    model = UPT(stored)
    expected = {name: list(t.shape) for name, t in model.state_dict().items()}
    found = {name: entry["shape"] for name, entry in header.items() if name != "__metadata__"}
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
    model.load_state_dict(load_file(os.fspath(path)))
    return model


def _lookup(data: dict[str, Any], dotted: str | None) -> Any:
    for key in (dotted or "").split("."):
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data
