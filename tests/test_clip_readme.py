"""The README's clipping snippets run as written (each fenced python block whose first line
is ``# readme-snippet: NAME``)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
NEEDS = {"torch-cpu": "torch", "mixed-precision": "ml_dtypes"}


def snippets() -> dict[str, str]:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n# readme-snippet: ([\w-]+)\n(.*?)```", text, re.S)
    return dict(blocks)


def test_the_readme_has_the_three_snippets():
    assert {"torch-cpu", "mixed-precision", "loss-scaler"} <= set(snippets())


@pytest.mark.parametrize("name", ["torch-cpu", "mixed-precision", "loss-scaler"])
def test_snippet_runs(name):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name])
    code = snippets()[name]
    exec(compile(code, f"README.md:{name}", "exec"), {"__name__": f"readme_{name}"})
