"""Per-step metrics recording, written as ``metrics.csv`` and ``metrics.json``."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write

__all__ = ["MetricsRecorder", "to_jsonable"]

STANDARD_FIELDS = ("run", "step", "loss", "total_norm", "coef", "clipped")


def _jsonable(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else str(v)  # "nan" / "inf": JSON has no non-finite numbers
    return v


def to_jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars/arrays turned into Python values and non-finite floats into
    strings, recursively, so that ``json.dumps`` writes strict JSON."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, os.PathLike):
        return str(obj)
    return _jsonable(obj)


class MetricsRecorder:
    """Collects one row per training step (``loss``, ``total_norm``, ``coef``, ``clipped`` and
    any other named value; an optional ``run`` label separates several runs in one file)."""

    def __init__(self, meta: dict[str, Any] | None = None) -> None:
        self.rows: list[dict[str, Any]] = []
        self.meta: dict[str, Any] = dict(meta or {})
        self._fields: list[str] = []

    def record(self, **values: Any) -> None:
        """Add one row, e.g. ``record(run="clip", step=3, loss=0.7, total_norm=12.0)``."""
        for k in values:
            if k not in self._fields:
                self._fields.append(k)
        self.rows.append(values)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def fields(self) -> list[str]:
        """Column names: the standard ones first, then the others in order of first use."""
        std = [f for f in STANDARD_FIELDS if f in self._fields]
        return std + [f for f in self._fields if f not in STANDARD_FIELDS]

    def runs(self) -> list[str]:
        """Distinct ``run`` labels in order of first appearance."""
        return list(dict.fromkeys(str(r.get("run", "")) for r in self.rows))

    def column(self, name: str, run: str | None = None) -> np.ndarray:
        """Values of one column as float64 (missing values are NaN), optionally for one run."""
        rows = self.rows if run is None else [r for r in self.rows if str(r.get("run", "")) == run]
        return np.array([float(r.get(name, np.nan)) for r in rows], dtype=np.float64)

    def summary(self, run: str | None = None) -> dict[str, float]:
        """Steps, last loss, median/max gradient norm and fraction of steps clipped."""
        loss = self.column("loss", run)
        norm = self.column("total_norm", run)
        clipped = self.column("clipped", run)
        out: dict[str, float] = {"steps": float(len(loss))}
        if len(loss):
            out["final_loss"] = float(loss[-1])
        if np.isfinite(norm).any():
            out["median_norm"] = float(np.nanmedian(norm))
            out["max_norm"] = float(np.nanmax(norm))
        if np.isfinite(clipped).any():
            out["frac_clipped"] = float(np.nanmean(clipped))
        return out

    def save(self, out_dir: str | os.PathLike, stem: str = "metrics") -> tuple[Path, Path]:
        """Write ``<stem>.csv`` and ``<stem>.json`` into ``out_dir`` (created if needed)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        fields = self.fields
        csv_path, json_path = out / f"{stem}.csv", out / f"{stem}.json"
        rows = [[_jsonable(r.get(k, "")) for k in fields] for r in self.rows]
        doc = {"meta": {k: _jsonable(v) for k, v in self.meta.items()}, "fields": fields,
               "steps": [{k: _jsonable(v) for k, v in r.items()} for r in self.rows]}
        table = io.StringIO(newline="")
        csv.writer(table).writerows([fields, *rows])
        atomic_write(csv_path, table.getvalue().encode())
        atomic_write(json_path, json.dumps(doc, indent=None, separators=(",", ":")).encode())
        return csv_path, json_path
