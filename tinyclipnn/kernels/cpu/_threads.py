"""Split a ``nogil`` Numba kernel's work over a few Python threads.

Why not ``prange``: numba's threading layer is process-global, and its default OpenMP layer
spin-waits after every launch; on a 2-core machine that made parallel kernels 1.5-4x slower
than serial ones (32M-float norm: 8.0 ms with ``omp`` against 4.3 ms with plain threads, the
memory-bandwidth bound). Plain threads over ``nogil`` kernels cost ~30-50 us per launch, are
safe to call from several Python threads at once, and leave the user's threading layer alone.


Fork: a child made by ``os.fork`` (``multiprocessing``'s default on Linux) inherits the pool
object but none of its threads, so work submitted to it would wait forever; the pool is
forgotten in the child (``os.register_at_fork``) and a new one starts on first use.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_POOL: list = []  # [ThreadPoolExecutor, its size], created on first parallel use
_NUM_THREADS: list = []  # [numba.get_num_threads (or a CPU count)], found on first use


def _forget_pool_in_child() -> None:
    _POOL.clear()  # the parent's threads do not exist here


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def max_threads() -> int:
    """Threads a kernel may use: ``numba.get_num_threads()`` (``NUMBA_NUM_THREADS``), or the
    CPU count when numba is not installed (numpy-only paths that split work)."""
    if not _NUM_THREADS:
        try:
            from numba import get_num_threads
        except ImportError:
            def get_num_threads() -> int:
                return os.cpu_count() or 1
        _NUM_THREADS.append(get_num_threads)
    return _NUM_THREADS[0]()


def split_run(kernel: Callable[..., Any], n_items: int, n_threads: int, *args: Any) -> None:
    """Run ``kernel(*args, lo, hi)`` over ``[0, n_items)`` cut into ``n_threads`` contiguous
    ranges, the calling thread taking the first. Each range's results must not depend on
    how the items were split (so results are identical for any thread count)."""
    n = max(1, min(n_threads, n_items))
    if n == 1:
        kernel(*args, 0, n_items)
        return
    if not _POOL or _POOL[1] < n - 1:
        _POOL[:] = [ThreadPoolExecutor(max_workers=n - 1, thread_name_prefix="tinyclipnn"), n - 1]
    jobs = [_POOL[0].submit(kernel, *args, c * n_items // n, (c + 1) * n_items // n)
            for c in range(1, n)]
    kernel(*args, 0, n_items // n)
    for job in jobs:
        job.result()
