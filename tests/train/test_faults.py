"""Fault injection: kill -9 at random moments of a run (training steps, checkpoint and metrics
writes, evaluation), resume until it finishes, and compare with a run that was never stopped."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from upt_data import generate_burgers_store
from upt_train import load_config
from upt_train.data import data_spec

STEPS = 12


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("fault-store") / "quick.zarr"
    generate_burgers_store(str(path), data_spec(load_config("burgers_quick").data), progress=False)
    return str(path)


def command(store: str, run_dir: Path, resume: bool) -> list[str]:
    if resume:
        return [sys.executable, "-m", "upt_train", "--resume", str(run_dir)]
    settings = {
        "data.store": store,
        "training.max_steps": STEPS,
        "training.warmup_steps": 2,
        "training.checkpoint_every": 3,
        "training.log_every": 1,
        "eval.plot_trajectories": 1,
    }
    overrides = [f"{key}={json.dumps(value)}" for key, value in settings.items()]
    return [
        sys.executable,
        "-m",
        "upt_train",
        "burgers_quick",
        *overrides,
        "--run-dir",
        str(run_dir),
    ]


def logged_steps(run_dir: Path) -> int:
    path = run_dir / "metrics.jsonl"
    return path.read_text().count("\n") if path.is_file() else 0


def run_with_kills(store: str, run_dir: Path, kill_after: list[int], seed: int) -> int:
    """Start the run, kill -9 it once `kill_after[i]` rows are logged (plus a random few ms),
    resume, and so on; then let it finish. Returns how many kills landed."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    rng, kills = random.Random(seed), 0
    for target in [*kill_after, None]:
        resume = (run_dir / "config.yaml").is_file()  # killed before that: start afresh
        process = subprocess.Popen(
            command(store, run_dir, resume), env=environment, stderr=subprocess.PIPE, text=True
        )
        if target is None:
            _, error = process.communicate(timeout=300)
            assert process.returncode == 0, error
            return kills
        while process.poll() is None and logged_steps(run_dir) < target:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.05))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.wait()
    return kills


@pytest.mark.parametrize("seed", [0, 1])
def test_killed_and_resumed_runs_match_a_straight_run(
    store: str, tmp_path: Path, seed: int
) -> None:
    straight, faulty = tmp_path / "straight", tmp_path / "faulty"
    assert run_with_kills(store, straight, [], seed) == 0
    targets = sorted(random.Random(seed).sample(range(STEPS + 1), 4))
    assert run_with_kills(store, faulty, targets, seed) >= 2
    first, second = (load_file(d / "model.safetensors") for d in (straight, faulty))
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    rows = [json.loads(line) for line in (faulty / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == list(range(1, STEPS + 1))
    assert json.loads((faulty / "summary.json").read_text())["one_step_nrmse"] > 0
    assert not list(faulty.glob(".*.tmp"))


def test_a_partial_last_metrics_line_does_not_break_a_resume(store: str, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(command(store, run_dir, False), env=environment, check=True, capture_output=True)
    metrics = run_dir / "metrics.jsonl"
    metrics.write_text(metrics.read_text() + '{"step": 13, "lr": 0.00')  # a kill mid-append
    (run_dir / ".model.safetensors.99999999.tmp").write_bytes(b"half a file")
    result = subprocess.run(
        [*command(store, run_dir, True), "training.max_steps=14"],
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [row["step"] for row in rows] == list(range(1, 15))
    assert not list(run_dir.glob(".*.tmp"))
