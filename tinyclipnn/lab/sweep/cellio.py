"""What one sweep cell keeps on disk: its result, its checkpoint and its progress.

Layout under the sweep folder ``out``: ``cells/<key>/result.json`` (written once, atomically,
when the cell finishes), ``cells/<key>/checkpoint.pkl`` (the run's state every K steps) and
``cells/<key>/progress.json`` (step / steps, for the progress display). Every write goes to a
temporary file in the same folder and is moved into place with ``os.replace``, so a killed
process leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import time
from pathlib import Path
from typing import Any

from ..metrics import to_jsonable

__all__ = ["Checkpoint", "atomic_write", "cell_dir", "cell_key", "read_result", "write_result"]


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def cell_key(config: dict[str, Any]) -> str:
    """A stable folder name for a configuration: ``name=value`` pairs in key order."""
    parts = [f"{k}={config[k]}" for k in sorted(config)]
    return re.sub(r"[^A-Za-z0-9=.,_+-]", "_", ",".join(parts)) or "cell"


def cell_dir(out: Path, key: str) -> Path:
    return Path(out) / "cells" / key


def read_result(out: Path, key: str) -> dict[str, Any] | None:
    """The finished cell's result, or None (not finished, or an unreadable file)."""
    try:
        return json.loads((cell_dir(out, key) / "result.json").read_text())
    except (OSError, ValueError):
        return None


def write_result(out: Path, key: str, result: dict[str, Any]) -> None:
    atomic_write(cell_dir(out, key) / "result.json",
                 json.dumps(to_jsonable(result), indent=1).encode())


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
        now = time.monotonic()
        if force or now - self._last_progress >= 1.0:
            self._last_progress = now
            atomic_write(self.folder / "progress.json",
                         json.dumps({"step": int(step), "steps": int(steps)}).encode())

    def clear(self) -> None:
        """Remove the checkpoint (after the result is safely written)."""
        for name in ("checkpoint.pkl", "progress.json"):
            try:
                (self.folder / name).unlink()
            except FileNotFoundError:
                pass


def read_progress(out: Path, key: str) -> float | None:
    """Fraction done of a started, unfinished cell (None when it has not started)."""
    try:
        p = json.loads((cell_dir(out, key) / "progress.json").read_text())
        return min(1.0, p["step"] / max(1, p["steps"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
