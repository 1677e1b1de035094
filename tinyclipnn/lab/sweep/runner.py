"""`run_sweep`: run a grid of configurations, one cell per configuration, resumably.

A cell function ``fn(config: dict, ckpt: Checkpoint) -> dict`` (a module-level function, so
worker processes can import it) trains one run: it starts from ``ckpt.load()`` when an earlier
attempt left a checkpoint, calls ``ckpt.save(state)`` when ``ckpt.due(step)``, and returns the
run's result (JSON-able values). The runner writes each result atomically as soon as the cell
finishes; a re-launched sweep skips finished cells and resumes interrupted ones. A worker that
dies mid-cell (killed, out of memory) costs only the steps since the cell's last checkpoint:
Dask re-runs the task on another worker, a broken local pool is replaced and its cells
resubmitted. Results: ``results.json`` and ``results.csv`` in the sweep folder, one row per
configuration (its settings, ``status`` done / failed / not run, and its result).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..metrics import to_jsonable
from .cellio import Checkpoint, atomic_write, cell_dir, cell_key, read_progress, read_result, write_result
from .display import SweepDisplay
from .executors import Pool, default_workers, open_pool

CellFn = Callable[[dict, Checkpoint], dict]


@dataclass
class SweepResult:
    """Rows in grid order (settings + ``status`` + result) and what became of the cells."""

    rows: list[dict[str, Any]]
    done: int
    failed: int
    skipped: int
    interrupted: bool
    seconds: float
    files: list[Path] = field(default_factory=list)


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


def run_cell(fn: CellFn, config: dict, out: str, key: str, every: int, threads: int) -> dict:
    """Run one cell in a worker: resume from its checkpoint, write its result atomically.
    ``threads``: BLAS / Numba threads it may use (0: leave them alone)."""
    if threads:
        _limit_threads(threads)
    folder = cell_dir(Path(out), key)
    folder.mkdir(parents=True, exist_ok=True)
    ckpt = Checkpoint(folder, every)
    result = dict(fn(dict(config), ckpt))
    write_result(Path(out), key, result)
    ckpt.clear()
    return result


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
    atomic_write(paths[0], buf.getvalue().encode())
    atomic_write(paths[1], json.dumps(to_jsonable({"meta": meta, "rows": rows}), indent=1)
                 .encode())
    return paths


def _run_inline(fn: CellFn, configs: list, keys: list, todo: list, out: Path, every: int,
                attempts: int, results: dict, errors: dict, quiet: bool) -> bool:
    """``workers=0``: run the cells one after another in this process (no pool; for tests,
    debugging, one-core machines). Returns True when Ctrl-C stopped it."""
    display = SweepDisplay(len(keys), len(results), 1, quiet)
    for i in todo:
        for attempt in range(attempts):
            try:
                results[keys[i]] = run_cell(fn, configs[i], str(out), keys[i], every, 0)
                break
            except KeyboardInterrupt:
                display.close()
                return True
            except Exception as e:  # noqa: BLE001 - a cell's failure is reported
                if attempt == attempts - 1:
                    errors[keys[i]] = f"{type(e).__name__}: {e}"
        display.update(len(results), [], len(errors), force=True)
    display.close()
    return False


def run_sweep(fn: CellFn, configs: Sequence[dict], out: Path | str, *,
              workers: int | None = None, scheduler: str | None = None,
              dask_local: int | None = None, checkpoint_every: int = 100,
              max_attempts: int = 3, quiet: bool = False, meta: dict | None = None,
              pool: Pool | None = None) -> SweepResult:
    """Run ``fn`` on every configuration (see the module docstring); returns a `SweepResult`.

    Executor: local 'spawn' processes (``workers``, default one per core; 0 runs the cells one
    after another in this process), or Dask
    (``scheduler="tcp://HOST:PORT"``, or ``dask_local=N`` workers on this machine); cell folders
    must then be on a filesystem the workers share. A cell that raises is retried (from its
    checkpoint) up to ``max_attempts`` times, then marked failed. Ctrl-C stops the sweep: cells
    not finished are marked "not run" and the tables are still written.
    """
    out = Path(out)
    t0 = time.monotonic()
    configs = [dict(c) for c in configs]
    keys = [cell_key(c) for c in configs]
    if len(set(keys)) != len(keys):
        raise ValueError("configs must be distinct (two give the same cell key)")
    if int(checkpoint_every) < 1:
        raise ValueError(f"checkpoint_every must be >= 1, got {checkpoint_every!r}")
    results: dict[str, dict] = {}
    for k in keys:
        r = read_result(out, k)
        if r is not None:
            results[k] = r
    skipped = len(results)
    todo = [i for i, k in enumerate(keys) if k not in results]
    errors: dict[str, str] = {}
    interrupted = False
    if todo and workers == 0 and pool is None and scheduler is None and dask_local is None:
        interrupted = _run_inline(fn, configs, keys, todo, out, int(checkpoint_every),
                                  max_attempts, results, errors, quiet)
        todo = []
    if todo:
        own = pool is None
        pool = pool or open_pool(workers, scheduler, dask_local)
        threads = max(1, default_workers() // pool.workers) if pool.kind == "local" else 1
        display = SweepDisplay(len(keys), skipped, pool.workers, quiet)
        attempts = dict.fromkeys(keys, 0)

        def submit(i: int, counts: bool = True):
            attempts[keys[i]] += counts
            return pool.executor.submit(run_cell, fn, configs[i], str(out), keys[i],
                                        int(checkpoint_every), threads)

        pending = {submit(i): i for i in todo}
        try:
            while pending:
                finished, _ = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                broken = []
                for f in finished:
                    i = pending.pop(f)
                    k = keys[i]
                    try:
                        results[k] = f.result()
                        if read_result(out, k) is None:  # a remote worker without shared disk
                            write_result(out, k, results[k])
                    except BrokenProcessPool:
                        broken.append(i)
                    except Exception as e:  # noqa: BLE001 - a cell's failure is reported
                        if attempts[k] < max_attempts:
                            pending[submit(i)] = i
                        else:
                            errors[k] = f"{type(e).__name__}: {e}"
                if broken:  # a local worker died: the pool is unusable, resubmit its cells
                    others = list(pending.values())
                    pending.clear()
                    pool.restart()
                    for i in broken:  # (each attempt counts: a cell that kills it stops)
                        if attempts[keys[i]] < max_attempts:
                            pending[submit(i)] = i
                        else:
                            errors[keys[i]] = "its worker process died in every attempt"
                    pending.update({submit(i, counts=False): i for i in others})
                running = [p for i in pending.values()
                           if (p := read_progress(out, keys[i])) is not None]
                display.update(len(results), running, len(errors), force=bool(finished))
        except KeyboardInterrupt:
            interrupted = True
            for f in pending:
                f.cancel()
        finally:
            display.update(len(results), [], len(errors), force=True)
            display.close()
            if own:
                pool.close(wait=not interrupted)
    rows = []
    for c, k in zip(configs, keys, strict=True):
        status = "done" if k in results else ("failed" if k in errors else "not run")
        rows.append({**c, "status": status, **results.get(k, {}),
                     **({"error": errors[k]} if k in errors else {})})
    files = _write_tables(out, rows, {**(meta or {}), "cells": len(keys)})
    return SweepResult(rows, len(results), len(errors), skipped, interrupted,
                       time.monotonic() - t0, files)


def collect_sweep(configs: Sequence[dict], out: Path | str) -> SweepResult:
    """The rows of a sweep from what is on disk, running nothing (unfinished: "not run")."""
    out = Path(out)
    rows, done = [], 0
    for c in configs:
        r = read_result(out, cell_key(c))
        done += r is not None
        rows.append({**c, "status": "done" if r is not None else "not run", **(r or {})})
    files = _write_tables(out, rows, {"cells": len(rows), "collected": True})
    return SweepResult(rows, done, 0, done, False, 0.0, files)
