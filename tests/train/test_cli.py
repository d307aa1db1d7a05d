"""upt-train end to end on a tiny store: the run folder, evaluate, resume, faults, bad input."""

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import upt_train.loop
from upt_data import FieldStore, generate_burgers_store
from upt_models import load_upt
from upt_train import TrainingData, load_config
from upt_train.cli import main
from upt_train.data import data_spec

QUICK = load_config("burgers_quick")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("train-store") / "tiny.zarr"
    generate_burgers_store(str(path), data_spec(QUICK.data), progress=False)
    return str(path)


def overrides(store: str, **extra: object) -> list[str]:
    values = {
        "data.store": store,
        "eval.plot_trajectories": 2,
        "training.max_steps": 6,
        "training.warmup_steps": 2,
        "training.checkpoint_every": 3,
        "training.log_every": 1,
        **extra,
    }
    return [f"{key}={json.dumps(value)}" for key, value in values.items()]


def test_a_run_writes_every_file(store: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_dir = tmp_path / "run"
    assert main(["burgers_quick", *overrides(store), "--run-dir", str(run_dir)]) == 0
    names = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}
    assert names == {
        "config.yaml",
        "normalization.json",
        "model.safetensors",
        "training_state.safetensors",
        "metrics.jsonl",
        "summary.json",
        "plots/losses.png",
        "plots/nrmse_per_step.png",
        "plots/rollout_0.png",
        "plots/rollout_1.png",
    }
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [1, 2, 3, 4, 5, 6]
    assert {"loss/next_step", "loss/inv_enc", "loss/inv_dec", "loss/total"} <= set(rows[0])
    assert all(b["loop_seconds"] > a["loop_seconds"] for a, b in itertools.pairwise(rows))
    summary = json.loads((run_dir / "summary.json").read_text())
    for key in (
        "one_step_nrmse",
        "reconstruction_nrmse",
        "latent_rollout_nrmse",
        "autoregressive_rollout_nrmse",
        "persistence_one_step_nrmse",
        "one_step_nrmse_32",
        "peak_rss_mib",
    ):
        assert summary[key] > 0
    assert summary["rollout_steps"] == 10
    model = load_upt(run_dir / "model.safetensors")
    assert model.config.latent == "grid"
    assert model.config.periodic
    assert model.config.translation_invariant
    printed = capsys.readouterr().out
    assert "latent rollout nRMSE" in printed
    assert str(run_dir) in printed


def test_evaluation_steps_at_the_training_stride(store: str) -> None:
    config = load_config("burgers_quick", overrides(store, **{"data.stride": 5}))
    stored = FieldStore.open(store)
    test = TrainingData(config, stored).trajectories("test", torch.device("cpu"))
    assert test.inputs.values.shape[1] == 3  # frames 0, 5, 10 of 11
    torch.testing.assert_close(test.times, torch.from_numpy(stored.times[::5]).float())
    first = stored.normalization.normalize(stored.read_trajectories("test", [0]))
    # the training grid is every second of the 32 stored points; 32 points is another resolution
    torch.testing.assert_close(test.inputs.values[0, 1], torch.from_numpy(first[0, 5, ::2]))
    torch.testing.assert_close(test.resolutions["32"].values[0, 1], torch.from_numpy(first[0, 5]))
    torch.testing.assert_close(
        test.inputs.coords[1, :, 0], torch.from_numpy(stored.coords[::2, 0]).float()
    )


def test_evaluate_scores_a_run_on_a_store_it_never_saw(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run_dir = tmp_path / "run"
    assert main(["burgers_quick", *overrides(store), "--run-dir", str(run_dir)]) == 0
    other = tmp_path / "other.zarr"
    spec = data_spec(load_config("burgers_quick", ["data.seed=11", "data.num_test=3"]).data)
    generate_burgers_store(str(other), spec, progress=False)
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--store", str(other)]) == 0
    folder = run_dir / "evaluations" / "other.zarr-test"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["store"] == str(other)
    assert summary["one_step_nrmse"] > 0
    assert (folder / "plots" / "rollout_0.png").is_file()
    assert not (folder / "plots" / "losses.png").exists()
    assert str(folder) in capsys.readouterr().out
    # the run's own store, other split, explicit output folder
    assert main(["evaluate", str(run_dir), "--split", "valid", "--out", str(tmp_path / "v")]) == 0
    assert json.loads((tmp_path / "v" / "summary.json").read_text())["split"] == "valid"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["/nonexistent/run"], "no config.yaml there"),
        (["RUN", "--store", "/nonexistent/store.zarr"], "no field store at /nonexistent"),
        (["RUN", "--split", "nope"], "invalid choice: 'nope'"),
    ],
)
def test_evaluate_refuses_bad_input(
    store: str, tmp_path: Path, arguments: list[str], message: str
) -> None:
    run_dir = tmp_path / "run"
    assert (
        main(
            [
                "burgers_quick",
                *overrides(store, **{"training.max_steps": 1}),
                "--run-dir",
                str(run_dir),
            ]
        )
        == 0
    )
    argv = [str(run_dir) if a == "RUN" else a for a in arguments]
    result = subprocess.run(
        [sys.executable, "-m", "upt_train", "evaluate", *argv], capture_output=True, text=True
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_resume_reaches_the_same_weights_as_a_straight_run(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    assert main(["burgers_quick", *overrides(store), "--run-dir", str(straight)]) == 0

    save = upt_train.loop.save_training_state

    def stop_after_first_checkpoint(*args, **kwargs):
        save(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(upt_train.loop, "save_training_state", stop_after_first_checkpoint)
    assert main(["burgers_quick", *overrides(store), "--run-dir", str(interrupted)]) == 130
    monkeypatch.setattr(upt_train.loop, "save_training_state", save)
    assert main(["--resume", str(interrupted)]) == 0

    first, second = (load_file(d / "model.safetensors") for d in (straight, interrupted))
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    steps = [
        json.loads(line)["step"]
        for line in (interrupted / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_a_stop_between_the_last_checkpoints_two_files_resumes_to_the_same_weights(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    assert main(["burgers_quick", *overrides(store), "--run-dir", str(straight)]) == 0
    writes = []

    def stopping(write):
        def write_then_maybe_stop(*args, **kwargs):
            write(*args, **kwargs)
            writes.append(write.__name__)
            if len(writes) == 3:  # the first file of the last checkpoint (step 6 of 6)
                raise KeyboardInterrupt

        return write_then_maybe_stop

    for name in ("save_model", "save_training_state"):
        monkeypatch.setattr(upt_train.loop, name, stopping(getattr(upt_train.loop, name)))
    assert main(["burgers_quick", *overrides(store), "--run-dir", str(interrupted)]) == 130
    monkeypatch.undo()
    assert main(["--resume", str(interrupted)]) == 0

    first, second = (load_file(d / "model.safetensors") for d in (straight, interrupted))
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_non_finite_loss_stops_with_the_last_checkpoint_intact(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    forward = upt_train.loop.UPTObjective.forward
    calls = []

    def nan_at_step_five(self, batch):
        calls.append(1)
        losses = forward(self, batch)
        if len(calls) == 5:
            losses["total"] = losses["total"] * float("nan")
        return losses

    monkeypatch.setattr(upt_train.loop.UPTObjective, "forward", nan_at_step_five)
    run_dir = tmp_path / "nan"
    assert main(["burgers_quick", *overrides(store), "--run-dir", str(run_dir)]) == 2
    error = capsys.readouterr().err
    assert "the loss became non-finite at step 4" in error
    assert "Traceback" not in error
    state = load_file(run_dir / "training_state.safetensors")
    assert all(torch.isfinite(t.float()).all() for k, t in state.items() if k.startswith("model/"))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nonexistent"], "no config named 'nonexistent'"),
        (["burgers", "training.lamda_inv_enc=0.1"], "did you mean 'training.lambda_inv_enc'"),
        (["burgers", "training.max_steps=many"], "training.max_steps: expected an integer"),
        (["burgers", "training.max_steps"], "bad override"),
        (["--resume", "/nonexistent/run"], "no config.yaml there"),
        (["burgers", "data.store=/nonexistent/dir/file.txt", "data.num_train=0"], "data.num_train"),
    ],
)
def test_bad_input_is_one_line_with_exit_code_2(
    argv: list[str], message: str, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "upt_train", *argv], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("upt-train: error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_corrupt_checkpoint_on_resume(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run_dir = tmp_path / "run"
    assert (
        main(
            [
                "burgers_quick",
                *overrides(store, **{"training.max_steps": 3}),
                "--run-dir",
                str(run_dir),
            ]
        )
        == 0
    )
    state = run_dir / "training_state.safetensors"
    state.write_bytes(state.read_bytes()[:50])
    assert main(["--resume", str(run_dir)]) == 2
    assert "not a readable training state" in capsys.readouterr().err


def test_two_process_ddp_matches_one_process(store: str, tmp_path: Path) -> None:
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    single, double = tmp_path / "single", tmp_path / "double"
    arguments = [*overrides(store, **{"training.max_steps": 4}), "--run-dir"]
    subprocess.run(
        [sys.executable, "-m", "upt_train", "burgers_quick", *arguments, str(single)],
        check=True,
        env=environment,
        capture_output=True,
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc-per-node",
            "2",
            "--master-port",
            "29533",
            "-m",
            "upt_train",
            "burgers_quick",
            *arguments,
            str(double),
        ],
        check=True,
        env=environment,
        capture_output=True,
    )
    curves = [
        [json.loads(line)["loss/total"] for line in (d / "metrics.jsonl").read_text().splitlines()]
        for d in (single, double)
    ]
    assert len(curves[0]) == 4
    torch.testing.assert_close(
        torch.tensor(curves[1]), torch.tensor(curves[0]), rtol=1e-4, atol=1e-6
    )


def test_an_existing_run_is_never_overwritten(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run_dir = tmp_path / "run"
    arguments = ["burgers_quick", *overrides(store, **{"training.max_steps": 2})]
    assert main([*arguments, "--run-dir", str(run_dir)]) == 0
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    assert main([*arguments, "--run-dir", str(run_dir)]) == 2
    assert f"continue it with --resume {run_dir}" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    assert main([*arguments, "--run-dir", str(not_a_folder)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_a_failed_resume_leaves_the_run_as_it_was(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run_dir = tmp_path / "run"
    assert main(["burgers_quick", *overrides(store), "--run-dir", str(run_dir)]) == 0
    config_before = (run_dir / "config.yaml").read_text()
    state = run_dir / "training_state.safetensors"
    state.write_bytes(state.read_bytes()[:100])
    assert main(["--resume", str(run_dir), "training.lr=0.5", "training.max_steps=9"]) == 2
    assert "not a readable training state" in capsys.readouterr().err
    assert (run_dir / "config.yaml").read_text() == config_before


def test_a_non_finite_loss_before_any_checkpoint_says_so(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    forward = upt_train.loop.UPTObjective.forward

    def nan_at_once(self, batch):
        losses = forward(self, batch)
        losses["total"] = losses["total"] * float("nan")
        return losses

    monkeypatch.setattr(upt_train.loop.UPTObjective, "forward", nan_at_once)
    assert main(["burgers_quick", *overrides(store), "--run-dir", str(tmp_path / "r")]) == 2
    error = capsys.readouterr().err
    assert "the loss became non-finite at step 0; no checkpoint was written before it" in error


def test_an_empty_evaluation_split_is_refused_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "no-test.zarr"
    config = load_config("burgers_quick", [f"data.store={path}", "data.num_test=0"])
    generate_burgers_store(str(path), data_spec(config.data), progress=False)
    run_dir = tmp_path / "run"
    argv = ["burgers_quick", f"data.store={path}", "data.num_test=0", "--run-dir", str(run_dir)]
    assert main(argv) == 2
    assert "the test split (eval.split) holds no trajectories" in capsys.readouterr().err
    assert not (run_dir / "metrics.jsonl").exists()
