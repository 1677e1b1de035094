"""What one sweep cell keeps on disk: its identity, result, checkpoint, progress, and whether
it was interrupted.

Layout under the sweep folder ``out``, per cell ``cells/<key>/``:

- ``cell.json``: which function (its name and code fingerprint, see `fingerprint`) and config
  the cell's files belong to; written when the cell starts.
- ``result.json``: ``{"cell": {fn, code, config}, "result": {...}}``, written only when the cell
  ran its whole budget (see `cell.run_cell`); a relaunch reuses it only when ``code`` and
  ``config`` still match.
- ``interrupted.json``: the cell was cut short (Ctrl-C): why, its progress and what it returned
  (partial metrics). Its ``checkpoint.pkl`` is kept: a relaunch resumes it.
- ``checkpoint.pkl`` (the run's state every K steps) and ``progress.json`` (step / steps).

And ``out/.stopped``: the launch id of a sweep stopped by Ctrl-C; a worker of that launch
finishing a cell afterwards records it as interrupted, not as done.

Every write goes to a temporary file in the same folder and is moved into place with
``os.replace``, so a killed process leaves either the old file or the new one, never half of
one (and an exception, KeyboardInterrupt included, removes the temporary file).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import atomic_write
from ..metrics import to_jsonable

__all__ = ["CellState", "Checkpoint", "atomic_write", "cell_dir", "cell_key", "cell_state",
           "clear_cell", "read_result", "write_result"]

STOP_MARKER = ".stopped"


def write_json(path: Path, doc: Any) -> None:
    atomic_write(path, json.dumps(to_jsonable(doc), indent=1).encode())


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def cell_key(config: dict[str, Any]) -> str:
    """A stable folder name for a configuration: ``name=value`` pairs in key order; when
    characters had to be replaced, a hash of the original follows (``a/b`` and ``a_b`` get
    two folders). Values that print alike (``0.1`` and "0.1") share one: the config stored
    with the files tells them apart (see `cell_state`)."""
    raw = ",".join(f"{k}={config[k]}" for k in sorted(config))
    key = re.sub(r"[^A-Za-z0-9=.,_+-]", "_", raw) or "cell"
    if key != raw:
        key += "~" + hashlib.sha256(raw.encode()).hexdigest()[:8]
    return key


def cell_dir(out: Path, key: str) -> Path:
    return Path(out) / "cells" / key


def cell_identity(fn_name: str, code: str, config: dict[str, Any]) -> dict[str, Any]:
    """What ``cell.json`` and a result's ``cell`` entry hold."""
    return {"fn": fn_name, "code": code, "config": to_jsonable(config)}


@dataclass
class CellState:
    """A cell as found on disk. ``status``: "done" (a result of this code), "interrupted"
    (cut short; ``info`` is its interrupted.json), "started" (began, no result, no marker),
    "stale" (files of other code or another config, or written before fingerprints) or
    "new". ``result``: the result when done."""

    status: str
    result: dict[str, Any] | None = None
    info: dict[str, Any] | None = None
    resumable: bool = False  # a checkpoint to resume from


def _code_of(doc: Any) -> str | None:
    cell = doc.get("cell") if isinstance(doc, dict) else None
    return cell.get("code") if isinstance(cell, dict) else None


def _same_config(doc: Any, config: dict[str, Any] | None) -> bool:
    """True when ``doc``'s cell identity is of ``config`` (None: any): folder names are
    sanitized, so two configurations can share one (``a/b`` and ``a_b``, ``0.1`` and "0.1")."""
    if config is None:
        return True
    cell = doc.get("cell", doc) if isinstance(doc, dict) else None
    stored = cell.get("config") if isinstance(cell, dict) else None
    return stored == json.loads(json.dumps(to_jsonable(config)))


def cell_state(out: Path, key: str, code: str | None,
               config: dict[str, Any] | None = None) -> CellState:
    """What ``cells/<key>`` holds for cells of ``config`` running code ``code`` (None: any
    config, any code); files of another configuration or code are "stale"."""
    # cell.json is written before a cell runs: without it, a checkpoint or marker is from
    # before fingerprints (stale); with it and nothing else, the cell started ("started")
    folder = cell_dir(out, key)
    if not folder.is_dir():
        return CellState("new")
    matches = lambda c: c is not None and (code is None or c == code)  # noqa: E731
    res = _read_json(folder / "result.json")
    if res is not None or (folder / "result.json").exists():
        if matches(_code_of(res)) and _same_config(res, config) \
                and isinstance(res.get("result"), dict):
            return CellState("done", result=res["result"])
        return CellState("stale")
    ident = _read_json(folder / "cell.json")
    has_state = any((folder / n).exists() for n in ("checkpoint.pkl", "interrupted.json"))
    if ident is None:
        return CellState("stale" if has_state else "new")
    if not isinstance(ident, dict) or not matches(ident.get("code")) \
            or not _same_config(ident, config):
        return CellState("stale")
    info = _read_json(folder / "interrupted.json")
    if isinstance(info, dict):
        return CellState("interrupted", info=info,
                         resumable=(folder / "checkpoint.pkl").exists())
    return CellState("started", resumable=(folder / "checkpoint.pkl").exists())


def clear_cell(out: Path, key: str) -> None:
    """Remove everything a cell left (before running it afresh)."""
    shutil.rmtree(cell_dir(out, key), ignore_errors=True)


def read_result(out: Path, key: str, code: str | None = None,
                config: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The finished cell's result (of code ``code`` and ``config`` when given), or None (not
    finished, cut short, other code or configuration, or an unreadable file)."""
    st = cell_state(out, key, code, config)
    return st.result if st.status == "done" else None


def write_result(out: Path, key: str, identity: dict[str, Any], result: dict[str, Any]) -> None:
    """Record a cell that ran its whole budget (and drop an older interrupted marker)."""
    folder = cell_dir(out, key)
    write_json(folder / "result.json", {"cell": identity, "result": result})
    (folder / "interrupted.json").unlink(missing_ok=True)


def write_interrupted(out: Path, key: str, identity: dict[str, Any], reason: str,
                      partial: dict[str, Any] | None,
                      progress: dict[str, int] | None = None) -> dict[str, Any]:
    """Record a cell cut short: why, how far it got (``progress``, else its progress file),
    what it returned; returns the record."""
    folder = cell_dir(out, key)
    write_json(folder / "cell.json", identity)
    prog = progress or _read_json(folder / "progress.json")
    info = {"cell": identity, "reason": reason,
            "progress": prog if isinstance(prog, dict) else None,
            "checkpoint": (folder / "checkpoint.pkl").exists(), "partial": partial,
            "time": time.time()}
    write_json(folder / "interrupted.json", info)
    return info


def progress_text(info: dict[str, Any] | None) -> str:
    """``"39/150"`` from an interrupted record's progress ("" when unknown)."""
    p = (info or {}).get("progress")
    try:
        return f"{int(p['step'])}/{int(p['steps'])}"
    except (TypeError, KeyError, ValueError):
        return ""


def mark_stopped(out: Path, launch: str) -> None:
    atomic_write(Path(out) / STOP_MARKER, launch.encode())


def stopped(out: Path, launch: str) -> bool:
    """True when the sweep launch ``launch`` was stopped (Ctrl-C)."""
    try:
        return (Path(out) / STOP_MARKER).read_text() == launch
    except OSError:
        return False


def clear_stopped(out: Path) -> None:
    (Path(out) / STOP_MARKER).unlink(missing_ok=True)


class Checkpoint:
    """Handed to a cell function: ``load()`` the state saved by an interrupted earlier attempt
    (None on a fresh start), ``save(state)`` it (any picklable object), ``due(step)`` says when
    (every ``every`` steps), ``progress(step, steps)`` feeds the sweep's progress display."""

    def __init__(self, folder: Path, every: int = 100) -> None:
        if int(every) < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got {every!r}")
        self.folder, self.every = Path(folder), int(every)
        self.path = self.folder / "checkpoint.pkl"
        self._last_progress = 0.0
        self.reported: dict[str, int] | None = None  # the last progress(), written or not

    def load(self) -> Any | None:
        try:
            with open(self.path, "rb") as f:
                return pickle.load(f)
        except (OSError, EOFError, pickle.UnpicklingError):
            return None

    def save(self, state: Any) -> None:
        atomic_write(self.path, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))

    def due(self, step: int) -> bool:
        """True every ``every`` steps (step counts from 1 after the first completed step)."""
        return step > 0 and step % self.every == 0

    def progress(self, step: int, steps: int, force: bool = False) -> None:
        """Record how far the cell is (at most once a second unless ``force``)."""
        self.reported = {"step": int(step), "steps": int(steps)}
        now = time.monotonic()
        if force or now - self._last_progress >= 1.0:
            self._last_progress = now
            atomic_write(self.folder / "progress.json",
                         json.dumps({"step": int(step), "steps": int(steps)}).encode())

    def clear(self) -> None:
        """Remove the checkpoint and progress (after the result is safely written)."""
        for name in ("checkpoint.pkl", "progress.json"):
            (self.folder / name).unlink(missing_ok=True)


def read_progress(out: Path, key: str) -> float | None:
    """Fraction done of a started, unfinished cell (None when it has not started)."""
    try:
        p = json.loads((cell_dir(out, key) / "progress.json").read_text())
        return min(1.0, p["step"] / max(1, p["steps"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
