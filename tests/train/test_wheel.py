"""upt-train's wheel ships its configs, so a non-editable install (asv's) finds them."""

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from upt_train.config import CONFIG_DIRS

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("uv") is None, reason="building the wheel needs uv")
def test_the_wheel_holds_every_config(tmp_path: Path) -> None:
    subprocess.run(
        ["uv", "build", "--package", "upt-train", "--wheel", "--out-dir", str(tmp_path)],
        cwd=REPOSITORY,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("upt_train-*.whl")
    packaged = {
        Path(name).name
        for name in zipfile.ZipFile(wheel).namelist()
        if name.startswith("upt_train/configs/") and name.endswith(".yaml")
    }
    shipped = {path.name for path in CONFIG_DIRS[1].glob("*.yaml")}
    assert "burgers.yaml" in shipped
    assert packaged == shipped


def test_the_repository_configs_folder_is_the_packaged_one() -> None:
    assert (REPOSITORY / "configs").resolve() == CONFIG_DIRS[1].resolve()
