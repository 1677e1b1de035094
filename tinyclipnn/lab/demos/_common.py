"""Shared ending of every demo: save metrics, collect figures, build the text summary."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ..interrupt import note_cut, stop_requested
from ..metrics import MetricsRecorder
from ..plotting import PLOT_HINT, have_matplotlib
from ..registry import DemoResult
from ..sweep import collect_sweep, run_sweep


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


def fresh_sweep(cell: Any, configs: list[dict], out: Path, workers: int | None, quiet: bool):
    """Run a demo's grid through `lab.sweep` in ``out/sweep`` (one process per core by default,
    ``workers=0``: in this process), starting fresh each time (a sweep would otherwise resume).
    After an earlier Ctrl-C of the same demo (stop requested) nothing runs: every cell is
    "not run"."""
    shutil.rmtree(Path(out) / "sweep", ignore_errors=True)
    if stop_requested():
        note_cut()
        res = collect_sweep(configs, Path(out) / "sweep")
        res.interrupted = True
        return res
    return run_sweep(cell, configs, Path(out) / "sweep", workers=workers, quiet=quiet)


def traces(recorder: MetricsRecorder, names: tuple[str, ...] = ("loss", "total_norm", "clipped"),
           run: str | None = None) -> dict[str, list]:
    """A run's per-step columns as lists (what a sweep cell sends back to the demo)."""
    return {k: recorder.column(k, run).tolist() for k in names}


def record_traces(recorder: MetricsRecorder, run: str, cols: dict[str, list]) -> None:
    """Record a cell's per-step columns (from `traces`) as rows of ``run``."""
    for k, vals in enumerate(zip(*cols.values(), strict=True)):
        recorder.record(run=run, step=k, **dict(zip(cols, vals, strict=True)))


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A plain-text table (list of lines) with right-aligned columns."""
    cells = [header] + [[f"{c:.3g}" if isinstance(c, float) else str(c) for c in r]
                        for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    fmt = lambda r: "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731
    return [fmt(cells[0]), "  ".join("-" * w for w in widths), *(fmt(r) for r in cells[1:])]
