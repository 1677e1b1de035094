"""Shared ending of every demo: save metrics, collect figures, build the text summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..metrics import MetricsRecorder
from ..plotting import PLOT_HINT, have_matplotlib
from ..registry import DemoResult


def finish(name: str, out: Path, recorder: MetricsRecorder | None, summary: dict[str, Any],
           lines: list[str], figures: list[Path | None]) -> DemoResult:
    """Write ``metrics.csv/json`` (when a recorder is given) and return the demo's result."""
    files: list[Path] = []
    if recorder is not None and len(recorder):
        files.extend(recorder.save(out))
    figs = [p for p in figures if p is not None]
    if not have_matplotlib():
        lines = [*lines, PLOT_HINT]
    return DemoResult(name=name, summary=summary, figures=figs, files=files,
                      text="\n".join(lines))


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A plain-text table (list of lines) with right-aligned columns."""
    cells = [header] + [[f"{c:.3g}" if isinstance(c, float) else str(c) for c in r]
                        for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    fmt = lambda r: "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731
    return [fmt(cells[0]), "  ".join("-" * w for w in widths), *(fmt(r) for r in cells[1:])]
