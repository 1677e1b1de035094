"""Where sweep cells run: local processes ('spawn') by default, a Dask cluster when asked.

Both are ``concurrent.futures`` executors: a `ProcessPoolExecutor`, or the executor of a
``distributed.Client`` (connected to ``scheduler="tcp://HOST:PORT"``, or to a `LocalCluster` of
``dask_local`` single-threaded worker processes it starts). Dask is imported only here, only
when used (the ``sweep`` extra: ``pip install "tinyclipnn[sweep]"``).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any


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


def _local_executor(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


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
