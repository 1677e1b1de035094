"""`run_sweep`: run a grid of configurations, one cell per configuration, resumably.

A cell function ``fn(config: dict, ckpt: Checkpoint) -> dict`` (a module-level function, so
worker processes can import it) trains one run: it starts from ``ckpt.load()`` when an earlier
attempt left a checkpoint, calls ``ckpt.save(state)`` when ``ckpt.due(step)``, and returns the
run's result (JSON-able values).

A cell's result is written (atomically) only when it ran its whole budget; a cell cut short by
Ctrl-C is recorded as *interrupted*, with its partial result and its checkpoint (see `cell`),
and a relaunch resumes it. A cached result is reused only when its code fingerprint (the cell
function's module source and the tinyclipnn version, see `fingerprint`) matches; otherwise the
cell runs again, and the relaunch says so, as it says how many cells it reused
(``rerun=True`` recomputes them all). A worker that dies mid-cell (killed, out of memory) costs
only the steps since the cell's last checkpoint: Dask re-runs the task on another worker, a
broken local pool is replaced and its cells resubmitted.

Ctrl-C (in the sweep's process; local workers do not see the terminal's Ctrl-C, the runner
forwards it): the running cells get a SIGINT, stop, and record themselves as interrupted; the
runner waits up to ``grace`` seconds for them (a second Ctrl-C: kill them now), so that no
worker writes anything after the tables. Results: ``results.json`` and ``results.csv`` in the
sweep folder, one row per configuration: its settings, ``status`` (done / failed /
interrupted / not run) and its result (an interrupted cell: ``progress``, ``reason``, and in
``results.json`` its ``partial`` result, never in the result columns).
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..interrupt import deferred, note_cut, reset_stop, shielded
from ..metrics import to_jsonable
from .cell import CellFn, CellTask, run_cell
from .cellio import (
    atomic_write,
    cell_identity,
    cell_key,
    cell_state,
    clear_cell,
    clear_stopped,
    mark_stopped,
    progress_text,
    read_progress,
    read_result,
    write_interrupted,
    write_result,
)
from .display import SweepDisplay
from .executors import Pool, default_workers, open_pool
from .fingerprint import code_fingerprint, function_name

RERUN_HINT = "rerun=True (--rerun) to recompute"


@dataclass
class SweepResult:
    """Rows in grid order (settings + ``status`` + result) and what became of the cells:
    ``done`` (all finished ones), ``skipped`` (of those, reused from an earlier launch),
    ``cut`` (interrupted), ``stale`` (cached by other code, run again)."""

    rows: list[dict[str, Any]]
    done: int
    failed: int
    skipped: int
    interrupted: bool
    seconds: float
    files: list[Path] = field(default_factory=list)
    cut: int = 0
    stale: int = 0


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _write_tables(out: Path, rows: list[dict], meta: dict) -> list[Path]:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols and not isinstance(r[k], (list, dict))]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(to_jsonable(r))
    paths = [out / "results.csv", out / "results.json"]
    with shielded():  # the two tables agree
        atomic_write(paths[0], buf.getvalue().encode())
        atomic_write(paths[1], json.dumps(to_jsonable({"meta": meta, "rows": rows}), indent=1)
                     .encode())
    return paths


def _interrupted_row(config: dict, info: dict | None) -> dict:
    info = info or {}
    return {**config, "status": "interrupted", "progress": progress_text(info),
            "reason": info.get("reason", ""), "partial": info.get("partial")}


def _announce(total: int, reused: int, stale: int, resuming: int, todo: int, rerun: bool,
              name: str) -> None:
    """Say what a launch takes from earlier ones (printed even when quiet: it is what makes a
    cached table distinguishable from a fresh one)."""
    if rerun:
        _say(f"sweep: rerun: computing all {total} cells afresh"
             + (f" ({reused} had results from an earlier launch)" if reused else ""))
        return
    if stale:
        _say(f"sweep: {stale} of {total} cells were computed by other code (the module of "
             f"{name} or tinyclipnn changed since): running them again")
    resume = f", {resuming} resuming from a checkpoint" if resuming else ""
    if reused == total:
        _say(f"sweep: {reused} of {total} cells from an earlier launch, nothing to run; "
             f"{RERUN_HINT}")
    elif reused:
        _say(f"sweep: {reused} of {total} cells from an earlier launch, {todo} to run{resume}; "
             f"{RERUN_HINT}")
    elif resuming:
        _say(f"sweep: {todo} cells to run{resume}")


class _Launch:
    """One launch of a sweep: its cells' tasks, what became of them, how it stops."""

    def __init__(self, fn: CellFn, configs: list[dict], keys: list[str], out: Path,
                 every: int, max_attempts: int, quiet: bool, grace: float) -> None:
        self.fn, self.configs, self.keys, self.out = fn, configs, keys, out
        self.every, self.max_attempts, self.quiet, self.grace = every, max_attempts, quiet, grace
        self.name, self.code = function_name(fn), code_fingerprint(fn)
        self.id = uuid.uuid4().hex
        self.results: dict[str, dict] = {}
        self.errors: dict[str, str] = {}
        self.cut: dict[str, dict | None] = {}
        self.interrupted = False

    def task(self, i: int, threads: int, inline: bool) -> CellTask:
        return CellTask(self.fn, self.configs[i], str(self.out), self.keys[i], self.every,
                        threads, self.name, self.code, self.id, inline)

    def identity(self, i: int) -> dict:
        return cell_identity(self.name, self.code, self.configs[i])

    def take(self, i: int, env: dict) -> None:
        """Record a cell's outcome as ``run_cell`` reported it."""
        k = self.keys[i]
        if env.get("status") == "done":
            self.results[k] = env["result"]
            if read_result(self.out, k, self.code, self.configs[i]) is None:  # remote, no shared disk
                write_result(self.out, k, self.identity(i), env["result"])
        elif env.get("status") == "interrupted":
            self.cut[k] = env.get("info")
            self.interrupted = True  # a cell stopped by Ctrl-C stops the sweep

    # -- workers=0 ----------------------------------------------------------------------------
    def run_inline(self, todo: list[int], ctrl_c: deferred, skipped: int) -> None:
        """Run the cells one after another in this process (no pool; for tests, debugging,
        one-core machines)."""
        display = SweepDisplay(len(self.keys), skipped, 1, self.quiet)
        try:
            for i in todo:
                if ctrl_c.pending or self.interrupted:
                    self.interrupted = True
                    break
                for attempt in range(self.max_attempts):
                    try:
                        self.take(i, run_cell(self.task(i, 0, inline=True)))
                        break
                    except KeyboardInterrupt:  # a second Ctrl-C (after the cell's verdict)
                        self.interrupted = True
                        break
                    except Exception as e:  # noqa: BLE001 - a cell's failure is reported
                        if attempt == self.max_attempts - 1:
                            self.errors[self.keys[i]] = f"{type(e).__name__}: {e}"
                display.update(len(self.results), [], len(self.errors), force=True)
        except KeyboardInterrupt:  # a second Ctrl-C between cells
            self.interrupted = True
        finally:
            display.close()

    # -- a pool ------------------------------------------------------------------------------
    def run_pool(self, pool: Pool, todo: list[int], ctrl_c: deferred, skipped: int) -> bool:
        """Run the cells on ``pool``; returns True when its local workers were killed."""
        threads = max(1, default_workers() // pool.workers) if pool.kind == "local" else 1
        display = SweepDisplay(len(self.keys), skipped, pool.workers, self.quiet)
        attempts = dict.fromkeys(self.keys, 0)

        def submit(i: int, counts: bool = True) -> Future:
            attempts[self.keys[i]] += counts
            return pool.executor.submit(run_cell, self.task(i, threads, inline=False))

        pending: dict[Future, int] = {}
        forced = False
        try:
            pending.update({submit(i): i for i in todo})
            while pending and not (self.interrupted or ctrl_c.pending):
                finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                broken = []
                for f in finished:
                    i = pending.pop(f)
                    k = self.keys[i]
                    try:
                        self.take(i, f.result())
                    except BrokenProcessPool:
                        broken.append(i)
                    except Exception as e:  # noqa: BLE001 - a cell's failure is reported
                        if attempts[k] < self.max_attempts:
                            pending[submit(i)] = i
                        else:
                            self.errors[k] = f"{type(e).__name__}: {e}"
                if broken:  # a local worker died: the pool is unusable, resubmit its cells
                    others = list(pending.values())
                    pending.clear()
                    pool.restart()
                    for i in broken:  # (each attempt counts: a cell that kills it stops)
                        if attempts[self.keys[i]] < self.max_attempts:
                            pending[submit(i)] = i
                        else:
                            self.errors[self.keys[i]] = "its worker process died in every attempt"
                    pending.update({submit(i, counts=False): i for i in others})
                running = [p for i in pending.values()
                           if (p := read_progress(self.out, self.keys[i])) is not None]
                display.update(len(self.results), running, len(self.errors),
                               force=bool(finished))
        except KeyboardInterrupt:  # a second Ctrl-C
            forced = True
        finally:
            display.update(len(self.results), [], len(self.errors), force=True)
            display.close()
        if pending and (self.interrupted or ctrl_c.pending or forced):
            self.interrupted = True
            return self._stop(pool, pending, forced)
        return False

    def _stop(self, pool: Pool, pending: dict[Future, int], forced: bool) -> bool:
        """After Ctrl-C: no new cell starts, running ones are told to stop and waited for (up to
        ``grace`` s; a further Ctrl-C or the deadline kills them). Returns True if killed."""
        running: dict[Future, int] = {}
        try:
            with shielded():
                mark_stopped(self.out, self.id)  # a cell finishing from now on is not "done"
                for f in pending:
                    f.cancel()
                running = {f: i for f, i in pending.items() if not f.cancelled()}
            if not running:
                return False
            if pool.kind != "local":
                _say(f"sweep: Ctrl-C: {len(running)} cells still run on Dask workers (which "
                     "cannot be interrupted); they will record themselves as interrupted")
                return False
            if not forced:
                pool.interrupt_workers()
                _say(f"sweep: Ctrl-C: stopping {len(running)} running cells (they save their "
                     "state; Ctrl-C again to kill them now)")
            deadline = time.monotonic() + self.grace
            while running and not forced and time.monotonic() < deadline:
                finished, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                for f in finished:
                    i = running.pop(f)
                    try:
                        env = f.result()
                    except Exception:  # noqa: BLE001 - stopped or killed: not done
                        continue
                    self.take(i, env)
        except KeyboardInterrupt:
            pass
        if running and pool.kind == "local":
            pool.kill_workers()
            return True
        return False

    # -- the table ---------------------------------------------------------------------------
    def rows(self) -> list[dict]:
        """One row per configuration, from what is known now (and on disk: a result written
        by a worker after the runner stopped listening still counts, so the table and the
        cell folders agree)."""
        rows = []
        for i, (c, k) in enumerate(zip(self.configs, self.keys, strict=True)):
            if k in self.results:
                rows.append({**c, "status": "done", **self.results[k]})
                continue
            if k in self.errors:
                rows.append({**c, "status": "failed", "error": self.errors[k]})
                continue
            st = cell_state(self.out, k, self.code, c)
            if st.status == "done":
                self.results[k] = st.result or {}
                rows.append({**c, "status": "done", **self.results[k]})
            elif st.status == "interrupted" or (st.status == "started" and self.interrupted):
                info = st.info or self.cut.get(k) or write_interrupted(
                    self.out, k, self.identity(i), "stopped by Ctrl-C (its worker was stopped)",
                    None)
                self.cut[k] = info
                rows.append(_interrupted_row(c, info))
            else:
                rows.append({**c, "status": "not run"})
        return rows


def run_sweep(fn: CellFn, configs: Sequence[dict], out: Path | str, *,
              workers: int | None = None, scheduler: str | None = None,
              dask_local: int | None = None, checkpoint_every: int = 100,
              max_attempts: int = 3, quiet: bool = False, meta: dict | None = None,
              pool: Pool | None = None, rerun: bool = False, grace: float = 20.0) -> SweepResult:
    """Run ``fn`` on every configuration (see the module docstring); returns a `SweepResult`.

    Executor: local 'spawn' processes (``workers``, default one per core; 0 runs the cells one
    after another in this process), or Dask
    (``scheduler="tcp://HOST:PORT"``, or ``dask_local=N`` workers on this machine); cell folders
    must then be on a filesystem the workers share. A cell that raises is retried (from its
    checkpoint) up to ``max_attempts`` times, then marked failed. ``rerun=True``: ignore results
    and checkpoints of earlier launches, compute every cell afresh. Ctrl-C stops the sweep:
    running cells are stopped (``grace``: seconds to wait for them) and marked interrupted,
    cells not started "not run", and the tables are still written. Dask workers cannot be
    signalled: their running cells go on, but record themselves as interrupted.
    """
    out = Path(out)
    t0 = time.monotonic()
    configs = [dict(c) for c in configs]
    keys = [cell_key(c) for c in configs]
    if len(set(keys)) != len(keys):
        raise ValueError("configs must be distinct (two give the same cell key)")
    if int(checkpoint_every) < 1:
        raise ValueError(f"checkpoint_every must be >= 1, got {checkpoint_every!r}")
    if not grace >= 0:
        raise ValueError(f"grace must be a number of seconds >= 0, got {grace!r}")
    launch = _Launch(fn, configs, keys, out, int(checkpoint_every), max_attempts, quiet,
                     float(grace))
    states = {k: cell_state(out, k, launch.code, c) for k, c in zip(keys, configs, strict=True)}
    stale = [k for k in keys if states[k].status == "stale"]
    cached = [k for k in keys if states[k].status == "done"]
    reused = [] if rerun else cached
    for k in (keys if rerun else stale):
        clear_cell(out, k)
    launch.results = {k: states[k].result or {} for k in reused}
    todo = [i for i, k in enumerate(keys) if k not in launch.results]
    resuming = 0 if rerun else sum(states[keys[i]].resumable for i in todo)
    clear_stopped(out)
    reset_stop()  # a new launch (a demo checks for an earlier Ctrl-C before it starts one)
    _announce(len(keys), len(cached), len(stale), resuming, len(todo), rerun, launch.name)
    with deferred() as ctrl_c:
        if todo and workers == 0 and pool is None and scheduler is None and dask_local is None:
            launch.run_inline(todo, ctrl_c, len(reused))
        elif todo:
            own = pool is None
            pool = pool or open_pool(workers, scheduler, dask_local)
            killed = False
            try:
                killed = launch.run_pool(pool, todo, ctrl_c, len(reused))
            finally:
                try:
                    if own:
                        pool.close(wait=True)
                    elif killed:
                        pool.restart()
                except KeyboardInterrupt:  # yet another Ctrl-C: stop waiting for the pool
                    pool.kill_workers()
                    pool.close(wait=False)
        with shielded():  # the verdicts and tables: one unit
            rows = launch.rows()
            n_cut = sum(r["status"] == "interrupted" for r in rows)
            not_run = sum(r["status"] == "not run" for r in rows)
            done = sum(r["status"] == "done" for r in rows)
            files = _write_tables(out, rows, {**(meta or {}), "cells": len(keys), "fn": launch.name,
                                              "code": launch.code, "reused": len(reused),
                                              "stale": len(stale), "rerun": bool(rerun),
                                              "interrupted": launch.interrupted})
            if launch.interrupted:
                if n_cut or not_run:
                    note_cut()
                _say(f"sweep: stopped by Ctrl-C: {done} of {len(keys)} cells done, {n_cut} "
                     f"interrupted (a relaunch resumes them), {not_run} not run")
    return SweepResult(rows, done, len(launch.errors), len(reused), launch.interrupted,
                       time.monotonic() - t0, files, cut=n_cut, stale=len(stale))


def collect_sweep(configs: Sequence[dict], out: Path | str,
                  fn: CellFn | None = None) -> SweepResult:
    """The rows of a sweep from what is on disk, running nothing. With ``fn``, a result of
    other code counts as "stale", not done; cut-short cells are "interrupted", never-started
    ones "not run"."""
    out = Path(out)
    code = code_fingerprint(fn) if fn is not None else None
    rows, done, cut, stale = [], 0, 0, 0
    for c in configs:
        st = cell_state(out, cell_key(c), code, c)
        if st.status == "done":
            done += 1
            rows.append({**c, "status": "done", **(st.result or {})})
        elif st.status in ("interrupted", "started"):
            cut += 1
            rows.append(_interrupted_row(c, st.info or {"reason": "started, not finished"}))
        else:
            stale += st.status == "stale"
            rows.append({**c, "status": "stale" if st.status == "stale" else "not run"})
    files = _write_tables(out, rows, {"cells": len(rows), "collected": True})
    return SweepResult(rows, done, 0, done, False, 0.0, files, cut=cut, stale=stale)
