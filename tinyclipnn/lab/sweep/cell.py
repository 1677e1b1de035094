"""One sweep cell, run in a worker (or inline): resume from its checkpoint, and write its result
only when it ran its whole budget.

A cell's author cannot forget to say it was cut short: `run_cell` records the cell as
interrupted (``interrupted.json``, with what it returned and its checkpoint kept) instead of
finished when any of these holds:

- the cell raised KeyboardInterrupt (a plain loop hit by Ctrl-C);
- a SIGINT reached this process while the cell ran (a loop that caught the KeyboardInterrupt
  and returned normally, as `run_loop` and `train_charlm` do);
- a `run_loop` inside it was cut short (`lab.interrupt.cut_count` grew);
- it returned ``{"interrupted": True, ...}`` (its own way of saying so);
- its sweep launch was stopped (Ctrl-C in the sweep's process) before the result was written.

The cell runs under `lab.interrupt.raising`; its verdict and files are written under
`shielded`, so a Ctrl-C cannot split them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..interrupt import cut_count, note_cut, raising, reset_stop, shielded, sigint_count
from .cellio import Checkpoint, cell_dir, cell_identity, stopped, write_interrupted, write_json, write_result

CellFn = Callable[[dict, Checkpoint], dict]


@dataclass(frozen=True)
class CellTask:
    """Everything a worker needs to run one cell (picklable: ``fn`` is module-level)."""

    fn: CellFn
    config: dict
    out: str
    key: str
    every: int
    threads: int  # BLAS / Numba threads it may use (0: leave them alone)
    fn_name: str
    code: str  # the fingerprint of ``fn`` (see `fingerprint`)
    launch: str  # the sweep launch's id (its stop marker)
    inline: bool  # run in the sweep's own process (``workers=0``)


def _limit_threads(n: int) -> None:
    """Cap BLAS and Numba threads in a worker, so N workers on N cores do not oversubscribe."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:  # pragma: no cover - optional
        pass
    try:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    except ImportError:  # pragma: no cover - numba is a dependency
        pass


def _cut_short(result: Any, sigints: int, cuts: int, out: Path, launch: str) -> str | None:
    """Why a cell that returned ``result`` did not run its whole budget (None: it did)."""
    if isinstance(result, dict) and result.get("interrupted"):
        return "the cell returned interrupted=True"
    if sigint_count() > sigints:
        return "Ctrl-C (SIGINT) while the cell ran"
    if cut_count() > cuts:
        return "a training loop in the cell was cut short"
    if stopped(out, launch):
        return "the sweep was stopped (Ctrl-C) before the cell's result was written"
    return None


def run_cell(task: CellTask) -> dict[str, Any]:
    """Run one cell; returns ``{"status": "done", "result": ...}``, ``{"status":
    "interrupted", "info": ...}`` or ``{"status": "skipped"}`` (its launch was stopped before
    it started). An exception of the cell propagates (the runner retries it)."""
    if task.threads:
        _limit_threads(task.threads)
    out = Path(task.out)
    folder = cell_dir(out, task.key)
    identity = cell_identity(task.fn_name, task.code, task.config)
    ckpt = Checkpoint(folder, task.every)
    sigints, cuts = sigint_count(), cut_count()
    result: Any = None
    reason = None
    with raising():
        try:
            if stopped(out, task.launch):  # (checked after the count: no SIGINT slips by)
                return {"status": "skipped"}
            folder.mkdir(parents=True, exist_ok=True)
            write_json(folder / "cell.json", identity)
            if not task.inline:  # a worker: an earlier cell's Ctrl-C is not this cell's
                reset_stop()
            result = dict(task.fn(dict(task.config), ckpt))
        except KeyboardInterrupt:
            reason = "Ctrl-C (KeyboardInterrupt) while the cell ran"
        except Exception:
            if sigint_count() == sigints and not stopped(out, task.launch):
                raise
            reason = "Ctrl-C while the cell ran (it then raised)"
    with shielded():
        reason = reason or _cut_short(result, sigints, cuts, out, task.launch)
        if reason is None:
            write_result(out, task.key, identity, result)
            ckpt.clear()
            return {"status": "done", "result": result}
        info = write_interrupted(out, task.key, identity, reason, result, ckpt.reported)
        note_cut()
        return {"status": "interrupted", "info": info}
