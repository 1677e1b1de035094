"""The documentation's clipping snippets run as written (the python blocks of the guides that
hold these examples; `docs/test_code_blocks.py` runs every block of the docs in CI's docs
step, this keeps the main ones in the main suite)."""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs" / "guides"
# name -> (page, a line that only that block has, module it needs)
SNIPPETS = {
    "torch-cpu": ("clipping.md", "C.clip_grad_value_(model.parameters(), 0.01)", "torch"),
    "mixed-precision": ("mixed-precision.md", "gbf = np.full(1000, 3.0, ml_dtypes.bfloat16)",
                        "ml_dtypes"),
    "loss-scaler": ("mixed-precision.md", "scaler = C.LossScaler(init_scale=1024.0)", None),
}


def snippet(name: str) -> str:
    page, key, _ = SNIPPETS[name]
    text = (DOCS / page).read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if key in b]
    assert len(blocks) == 1, f"{page}: expected one python block with {key!r}"
    return blocks[0]


@pytest.mark.parametrize("name", list(SNIPPETS))
def test_snippet_runs(name):
    needs = SNIPPETS[name][2]
    if needs:
        pytest.importorskip(needs)
    code = snippet(name)
    exec(compile(code, f"docs:{name}", "exec"), {"__name__": f"docs_{name}"})
