"""Where sweep cells run: local processes ('spawn') by default, a Dask cluster when asked.

Both are ``concurrent.futures`` executors: a `ProcessPoolExecutor`, or the executor of a
``distributed.Client`` (connected to ``scheduler="tcp://HOST:PORT"``, or to a `LocalCluster` of
``dask_local`` single-threaded worker processes it starts). Dask is imported only here, only
when used (the ``sweep`` extra: ``pip install "tinyclipnn[sweep]"``).

Ctrl-C and local workers: each worker process leaves the terminal's process group, so a Ctrl-C
reaches the sweep's own process only, which decides what happens (`Pool.interrupt_workers`
forwards one SIGINT to each worker: the running cells stop and record themselves as
interrupted; `Pool.kill_workers` when they take too long). Between cells a worker only counts
a SIGINT (`lab.interrupt.ignore_between_cells`).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..interrupt import ignore_between_cells


@dataclass
class Pool:
    """An executor, how many cells it runs at once, and how to replace or close it."""

    executor: Executor
    workers: int
    kind: str
    _close: list = field(default_factory=list)

    def restart(self) -> None:
        """Replace a broken local pool (a worker process died); Dask recovers by itself."""
        if self.kind == "local":
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = _local_executor(self.workers)

    def _local_pids(self) -> list[int]:
        procs = getattr(self.executor, "_processes", None) or {}  # CPython's worker table
        return [p.pid for p in list(procs.values()) if p.pid is not None and p.is_alive()]

    def interrupt_workers(self) -> int:
        """Send SIGINT to each local worker process; returns how many (0 for Dask)."""
        return self._signal_workers(signal.SIGINT)

    def kill_workers(self) -> int:
        """SIGKILL the local worker processes (their checkpoints are atomic writes)."""
        return self._signal_workers(signal.SIGKILL)

    def _signal_workers(self, sig: int) -> int:
        if self.kind != "local":
            return 0
        n = 0
        for pid in self._local_pids():
            try:
                os.kill(pid, sig)
                n += 1
            except ProcessLookupError:
                pass
        return n

    def close(self, wait: bool = True) -> None:
        if self.kind == "local":
            self.executor.shutdown(wait=wait, cancel_futures=True)
        for c in self._close:
            try:
                c.close()
            except Exception:  # noqa: BLE001 - closing a dead cluster must not hide the result
                pass


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


def _init_worker() -> None:
    """In each local worker: leave the terminal's process group (a Ctrl-C goes to the sweep's
    process, which forwards it) and only count a SIGINT between cells."""
    try:
        os.setpgid(0, 0)
    except OSError:  # pragma: no cover - not permitted here: Ctrl-C also reaches the workers
        pass
    ignore_between_cells()


def _local_executor(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker)


def _dask():
    try:
        import distributed
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("a Dask sweep needs the 'sweep' extra: pip install "
                          "'tinyclipnn[sweep]' (dask[distributed])") from e
    return distributed


def open_pool(workers: int | None = None, scheduler: str | None = None,
              dask_local: int | None = None, **dask_kwargs: Any) -> Pool:
    """Open the executor: ``scheduler`` (a Dask scheduler address) or ``dask_local`` (start a
    LocalCluster of that many workers) or local processes (``workers``, default one per core)."""
    if scheduler is not None and dask_local is not None:
        raise ValueError("give scheduler= or dask_local=, not both")
    if workers is not None and int(workers) < 1:
        raise ValueError(f"workers must be >= 1 for a pool (0 runs inline), got {workers!r}")
    if dask_local is not None and int(dask_local) < 1:
        raise ValueError(f"dask_local must be >= 1 worker, got {dask_local!r}")
    if scheduler is None and dask_local is None:
        n = int(workers or default_workers())
        return Pool(_local_executor(n), n, "local")
    distributed = _dask()
    closers: list = []
    if scheduler is not None:
        client = distributed.Client(scheduler, **dask_kwargs)
    else:
        cluster = distributed.LocalCluster(n_workers=int(dask_local), threads_per_worker=1,
                                           processes=True, dashboard_address=None,
                                           **dask_kwargs)
        closers.append(cluster)
        client = distributed.Client(cluster)
    closers.insert(0, client)
    n = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
    return Pool(client.get_executor(pure=False), max(1, n), "dask", closers)
