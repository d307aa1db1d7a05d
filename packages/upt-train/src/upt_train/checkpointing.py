"""Training state as safetensors, written atomically: weights, optimizer, step and RNG states.

One file holds everything a resume needs, so it can never mix two steps; a kill at any moment
leaves the last complete file in place (each write goes to a temporary file that is then renamed
over the old one). Nothing is pickled: tensors go to safetensors, the rest to JSON metadata.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from upt_models import CheckpointError


@dataclass
class TrainingState:
    """What a resume restores besides the model's weights."""

    step: int
    rng: dict[str, Tensor]
    extra: dict[str, Any]


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(temporary path) next to `path`, flush it to disk, then rename it to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def remove_stale_temporaries(folder: Path) -> None:
    """Delete the `.NAME.PID.tmp` files that writers killed mid-write left in a run folder (a
    run folder has one writer, so any found when a run starts are stale)."""
    for temporary in folder.glob(".*.tmp"):
        temporary.unlink(missing_ok=True)


def save_training_state(
    path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, state: TrainingState
) -> None:
    """Write weights, optimizer state, step, RNG states and `extra` (JSON) to one file."""
    tensors = {
        f"model/{k}": v.detach().cpu().contiguous()
        for k, v in model.state_dict().items()
        if isinstance(v, Tensor)
    }
    optimizer_state = optimizer.state_dict()
    plain_state: dict[str, dict[str, Any]] = {}
    for param_id, entries in optimizer_state["state"].items():
        for name, value in entries.items():
            if isinstance(value, Tensor):
                tensors[f"optimizer/{param_id}/{name}"] = value.detach().cpu().contiguous()
            else:
                plain_state.setdefault(str(param_id), {})[name] = value
    tensors.update({f"rng/{k}": v.cpu().contiguous() for k, v in state.rng.items()})
    metadata = {
        "step": str(state.step),
        "param_groups": json.dumps(optimizer_state["param_groups"]),
        "optimizer_plain_state": json.dumps(plain_state),
        "extra": json.dumps(state.extra),
    }
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def load_training_state(
    path: Path, model: nn.Module, optimizer: torch.optim.Optimizer
) -> TrainingState:
    """Restore weights and optimizer state in place; return step, RNG states and `extra`."""
    if not path.is_file():
        raise CheckpointError(f"no training state at {path}")
    try:
        with safe_open(path, framework="pt") as handle:
            metadata = handle.metadata()
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        step = int(metadata["step"])
    except (SafetensorError, OSError, TypeError, ValueError, KeyError) as error:
        raise CheckpointError(f"{path} is not a readable training state: {error}") from error

    weights = {k.removeprefix("model/"): v for k, v in tensors.items() if k.startswith("model/")}
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        raise CheckpointError(f"{path} does not fit this model: {error}") from error
    optimizer_state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer/"):
            _, param_id, name = key.split("/", 2)
            optimizer_state.setdefault(int(param_id), {})[name] = value
    for param_id, entries in json.loads(metadata["optimizer_plain_state"]).items():
        optimizer_state.setdefault(int(param_id), {}).update(entries)
    optimizer.load_state_dict(
        {"state": optimizer_state, "param_groups": json.loads(metadata["param_groups"])}
    )
    return TrainingState(
        step=step,
        rng={k.removeprefix("rng/"): v for k, v in tensors.items() if k.startswith("rng/")},
        extra=json.loads(metadata["extra"]),
    )
