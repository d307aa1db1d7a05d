"""upt-losses builds into a wheel that needs torch and nothing else, and works from it alone."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

REPOSITORY = Path(__file__).resolve().parents[2]

USE_THE_WHEEL = """
import torch
from upt_losses import upt_inverse_decoding_loss, upt_inverse_encoding_loss

def decoder(latent, query_coords):
    return latent.mean(dim=(1, 2)).view(-1, 1, 1) * query_coords

def encoder(fields, coords):
    return fields.mean(dim=(1, 2)).view(-1, 1, 1).expand(-1, 2, 1)

coords = torch.tensor([[[0.0], [1.0], [2.0]]])
latent = torch.tensor([[[1.0], [3.0]]])
fields = torch.tensor([[[0.0], [2.0], [2.0]]])
print(upt_inverse_encoding_loss(fields, coords, latent, decoder).item())
print(upt_inverse_decoding_loss(latent, decoder, encoder, coords).item())
try:
    upt_inverse_encoding_loss(fields[0], coords, latent, decoder)
except ValueError as error:
    print(error)
"""


def run(*command: str | Path) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    if found is None:
        pytest.skip("building the wheel needs uv on PATH")
    return found


def test_wheel_requires_only_torch_and_works_alone(uv: str, tmp_path: Path) -> None:
    run(uv, "build", "--package", "upt-losses", "--wheel", "--out-dir", tmp_path, REPOSITORY)
    (wheel,) = tmp_path.glob("upt_losses-*.whl")

    with zipfile.ZipFile(wheel) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(metadata_name).decode()
        modules = {n.split("/")[0] for n in archive.namelist() if not n.endswith(".dist-info/")}
    requirements = [
        re.split(r"[\s<>=!~;\[(]", line.removeprefix("Requires-Dist:").strip())[0]
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    assert requirements == ["torch"]
    assert modules == {"upt_losses", wheel.name.removesuffix("-py3-none-any.whl") + ".dist-info"}

    venv = tmp_path / "venv"
    run(uv, "venv", "--quiet", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    torch_release = torch.__version__.split("+")[0]
    run(uv, "pip", "install", "--quiet", "--python", python, wheel, f"torch=={torch_release}")

    installed = {
        p["name"]
        for p in json.loads(run(uv, "pip", "list", "--python", python, "--format", "json"))
    }
    assert "upt-losses" in installed
    assert not installed & {"upt-data", "upt-models", "upt-train", "einops", "numpy", "zarr"}

    encoding, decoding, message = run(python, "-c", USE_THE_WHEEL).splitlines()
    assert float(encoding) == pytest.approx(1 / 3 * ((0 - 0) ** 2 + (2 - 2) ** 2 + (4 - 2) ** 2))
    assert float(decoding) == pytest.approx(1.0)
    assert message == "input_fields must have shape (B, N, C); got (3, 1)"
