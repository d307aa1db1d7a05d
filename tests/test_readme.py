"""The Python examples in the READMEs run as written."""

import re
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
DOCUMENTS = ["README.md", "packages/upt-losses/README.md", "packages/upt-train/README.md"]


def python_blocks(document: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPOSITORY / document).read_text(), re.DOTALL)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_python_examples_run(document: str) -> None:
    blocks = python_blocks(document)
    assert blocks, f"{document} has no python example"
    for block in blocks:
        exec(compile(block, document, "exec"), {"__name__": "readme_example"})
