"""`upt-harness adversary`: its outcome classes, and a few of its cases run for real."""

from pathlib import Path

import pytest

from upt_harness.adversary import CASES, Case, classify, prepare_workspace, report, run_case


def bad(name: str = "x") -> Case:
    return Case(name, "bad input", lambda work: ([], []))


def fine() -> Case:
    return Case("ok", "run folders", lambda work: ([], []), bad_input=False)


@pytest.mark.parametrize(
    ("case", "code", "stderr", "unchanged", "kind"),
    [
        (bad(), 2, "upt-train: error: batch_size must be <= 65536", True, "clear error"),
        (bad(), 2, "training: 10%\nupt-train: error: x", True, "clear error"),
        (bad(), 2, "a\nb\nc\n", True, "traceback"),
        (bad(), 1, "Traceback (most recent call last):\n  ...\nValueError: x", True, "traceback"),
        (bad(), 0, "", True, "silent"),
        (bad(), None, "", True, "silent"),
        (bad(), 2, "upt-train: error: x", False, "damaged"),
        (fine(), 0, "", True, "handled"),
        (fine(), 2, "upt-train: error: x", True, "traceback"),
    ],
)
def test_outcomes_are_classified(
    case: Case, code: int | None, stderr: str, unchanged: bool, kind: str
) -> None:
    assert classify(case, code, stderr, unchanged) == kind


def test_case_names_are_unique() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))


def test_a_few_cases_end_as_they_must(tmp_path: Path) -> None:
    chosen = {
        "--run-dir on an existing run": "clear error",
        "info --check on a deleted chunk": "clear error",
        "resume after a partial metrics line": "handled",
    }
    work = prepare_workspace(tmp_path)
    outcomes = [run_case(case, work) for case in CASES if case.name in chosen]
    assert {o.case.name: o.kind for o in outcomes} == chosen, report(outcomes)
