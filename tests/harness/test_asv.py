"""The asv suite imports and is well formed (`asv check` against this interpreter)."""

import json
import re
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def test_asv_check_passes() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "asv", "check", "-E", "existing:same"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "No problems found" in output


def test_asv_config_installs_the_workspace_per_commit() -> None:
    text = (REPOSITORY / "asv.conf.json").read_text()
    config = json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.MULTILINE))
    assert config["environment_type"] == "uv"
    assert config["benchmark_dir"] == "benchmarks"
    (install,) = config["install_command"]
    assert "--frozen" in install
    assert "--no-editable" in install
    for package in ("upt-losses", "upt-models", "upt-data", "upt-train"):
        assert f"--reinstall-package {package}" in install
