"""`upt-harness compare burgers --quick` end to end, and the pieces it is made of."""

import json
from pathlib import Path

import pytest
import torch
from einops import repeat

from upt_harness.cli import main
from upt_harness.compare import wall_clock_steps
from upt_harness.entries import INVERSE_DEFAULT, ablation_pairs, entries_for
from upt_harness.gino import segment_csr
from upt_harness.leaderboard import mean_and_spread, table


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("harness") / "quick"
    assert main(["compare", "burgers", "--quick", "--out", str(out)]) == 0
    return out


def section(leaderboard: str, title: str) -> str:
    return leaderboard.split(f"## {title}")[1].split("\n## ")[0]


def test_quick_compare_writes_a_leaderboard_with_every_entry(quick_run: Path) -> None:
    leaderboard = (quick_run / "leaderboard.md").read_text()
    names = [entry.name for entry in entries_for("burgers", "tied", peers=True, quick=True)]
    assert "FNO (neuraloperator)" in names
    for title in ("Equal step budget", "Equal wall-clock budget"):
        rows = [line for line in section(leaderboard, title).splitlines() if line.startswith("| ")]
        entries = [row.split(" | ")[0].removeprefix("| ") for row in rows[2:]]
        assert entries == [*names, "persistence (no training)"]
        assert not any("failed" in row for row in rows)
    results = json.loads((quick_run / "results.json").read_text())["results"]
    assert len(results) == 2 * len(names)
    for result in results:
        assert "error" not in result, result
        assert result["one_step_nrmse"] > 0
        assert result["peak_rss_mib"] > 100
        assert len(result["curves"]["autoregressive"]) == result["rollout_steps"] == 10
    fno = [r for r in results if r["entry"] == "FNO (neuraloperator)"]
    assert all(r["latent_rollout_nrmse"] is None for r in fno)
    assert all(r["reconstruction_nrmse"] is None for r in fno)
    upt = [r for r in results if r["entry"] == "golden"]
    assert all(r["reconstruction_nrmse"] > 0 for r in upt)
    for name in ("nrmse_per_step.png", "error_vs_wall_time.png"):
        assert (quick_run / "plots" / name).stat().st_size > 10_000


def test_same_seed_same_budget_gives_the_same_golden_run(quick_run: Path) -> None:
    results = json.loads((quick_run / "results.json").read_text())["results"]
    golden = [r for r in results if r["entry"] == "golden"]
    by_budget = {r["budget"]: r for r in golden}
    if by_budget["steps"]["steps"] == by_budget["seconds"]["steps"]:
        assert by_budget["steps"]["one_step_nrmse"] == by_budget["seconds"]["one_step_nrmse"]


def test_a_second_compare_into_the_same_folder_reruns_nothing(quick_run: Path) -> None:
    finished = sorted(quick_run.glob("jobs/*/*/finished.json"))
    assert finished
    stamps = {path: path.stat().st_mtime_ns for path in finished}
    before = json.loads((quick_run / "results.json").read_text())["results"]
    assert main(["compare", "burgers", "--quick", "--out", str(quick_run)]) == 0
    assert {path: path.stat().st_mtime_ns for path in finished} == stamps
    after = json.loads((quick_run / "results.json").read_text())["results"]
    assert [r["one_step_nrmse"] for r in after] == [r["one_step_nrmse"] for r in before]


def test_ablation_pairs_skip_the_runs_other_entries_already_make() -> None:
    assert ablation_pairs("tied") == [(0.1, 0.1), (1.0, 1.0)]
    grid = ablation_pairs("grid")
    assert len(grid) == 14
    assert (0.0, 0.0) not in grid
    assert INVERSE_DEFAULT not in grid
    assert ablation_pairs("none") == []


def test_wall_clock_steps_fill_the_budget_at_the_entry_own_pace() -> None:
    assert wall_clock_steps({"loop_seconds": 10.0, "steps": 100}, 20.0) == 200
    assert wall_clock_steps({"loop_seconds": 10.0, "steps": 10}, 0.01) == 1


def test_leaderboard_cells() -> None:
    assert mean_and_spread([1.0], ".2f") == "1.00"
    assert mean_and_spread([1.0, 3.0], ".1f") == "2.0 ± 1.4"
    rows = table(
        [{"entry": "x", "seed": 0, "budget": "steps", "error": "exit 1: boom"}], "steps", ["x"]
    )
    assert "failed: exit 1: boom" in rows[-1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compare", "burgers", "--seeds", "0"], "--seeds must be >= 1"),
        (["compare", "navier-stokes"], "invalid choice"),
        (["compare", "ns2d", "--seconds", "0"], "--seconds must be positive"),
        (["compare", "burgers", "--seconds", "-1"], "--seconds must be positive"),
    ],
)
def test_bad_arguments_exit_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.fixture(scope="module")
def quick_clouds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("harness") / "ns2d"
    assert main(["compare", "ns2d", "--quick", "--ablation", "none", "--out", str(out)]) == 0
    return out


def test_quick_point_cloud_compare_has_gino_and_the_grid_fno(quick_clouds: Path) -> None:
    leaderboard = (quick_clouds / "leaderboard.md").read_text()
    names = [entry.name for entry in entries_for("ns2d", "none", peers=True, quick=True)]
    assert names == [
        "golden",
        "inverse losses",
        "GINO (neuraloperator)",
        "FNO on the full grid (neuraloperator)",
    ]
    assert "one-step nRMSE, full grid" in leaderboard
    assert "point clouds: every model but the FNO" in leaderboard
    results = json.loads((quick_clouds / "results.json").read_text())["results"]
    assert len(results) == 2 * len(names)
    for result in results:
        assert "error" not in result, result
        assert result["one_step_nrmse"] > 0
        assert result["grid_one_step_nrmse"] > 0
    gino = [r for r in results if r["entry"].startswith("GINO")]
    assert all(r["latent_rollout_nrmse"] is None for r in gino)


@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_the_vectorized_segment_reduction_equals_neuraloperators_loop(
    batched: bool, reduction: str
) -> None:
    """Values and gradients, with empty neighbourhoods among the segments."""
    loop = pytest.importorskip("neuralop.layers.segment_csr").segment_csr

    gen = torch.Generator().manual_seed(0)
    counts = torch.tensor([3, 0, 1, 5, 0, 2])
    splits = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])
    shape = (2, int(counts.sum()), 4) if batched else (int(counts.sum()), 4)
    indptr = repeat(splits, "s -> b s", b=2) if batched else splits
    src = torch.randn(shape, generator=gen, requires_grad=True)
    expected = loop(src, indptr, reduction, use_scatter=False)
    (expected_grad,) = torch.autograd.grad(expected.square().sum(), src)
    found = segment_csr(src, indptr, reduction)
    (found_grad,) = torch.autograd.grad(found.square().sum(), src)
    torch.testing.assert_close(found, expected)
    torch.testing.assert_close(found_grad, expected_grad)
