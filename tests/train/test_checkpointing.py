"""Training state round trips exactly, survives interrupted writes, and rejects bad files."""

from pathlib import Path

import pytest
import torch
from torch import nn

from upt_train.checkpointing import (
    CheckpointError,
    TrainingState,
    atomic_write,
    load_training_state,
    save_training_state,
)


def trained_pair(seed: int) -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 8), nn.GELU(), nn.Linear(8, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(5, 3)).square().mean().backward()
        optimizer.step()
    return model, optimizer


def train_once(model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    optimizer.zero_grad()
    model(torch.ones(4, 3)).square().mean().backward()
    optimizer.step()


def test_round_trip_continues_identically(tmp_path: Path) -> None:
    model, optimizer = trained_pair(0)
    rng = {"torch": torch.get_rng_state()}
    save_training_state(
        tmp_path / "state.safetensors", model, optimizer, TrainingState(3, rng, {"a": 1})
    )

    restored_model, restored_optimizer = trained_pair(1)
    state = load_training_state(tmp_path / "state.safetensors", restored_model, restored_optimizer)
    assert state.step == 3
    assert state.extra == {"a": 1}
    assert torch.equal(state.rng["torch"], rng["torch"])

    train_once(model, optimizer)
    train_once(restored_model, restored_optimizer)
    for original, restored in zip(model.parameters(), restored_model.parameters(), strict=True):
        assert torch.equal(original, restored)


def test_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "state.safetensors"
    target.write_bytes(b"previous")

    def crash_midway(temporary: Path) -> None:
        temporary.write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, crash_midway)
    assert target.read_bytes() == b"previous"
    assert list(tmp_path.iterdir()) == [target]


def test_missing_truncated_and_mismatched_files_are_rejected(tmp_path: Path) -> None:
    model, optimizer = trained_pair(0)
    with pytest.raises(CheckpointError, match="no training state"):
        load_training_state(tmp_path / "absent.safetensors", model, optimizer)

    path = tmp_path / "state.safetensors"
    save_training_state(path, model, optimizer, TrainingState(3, {}, {}))
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="not a readable training state"):
        load_training_state(truncated, model, optimizer)

    other = nn.Linear(3, 2)
    with pytest.raises(CheckpointError, match="does not fit this model"):
        load_training_state(path, other, torch.optim.AdamW(other.parameters()))
