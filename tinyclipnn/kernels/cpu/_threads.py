"""Split a ``nogil`` Numba kernel's work over a few Python threads.

Why not ``prange``: numba's threading layer is process-global, and its default OpenMP layer
spin-waits after every launch; on a 2-core machine that made parallel kernels 1.5-4x slower
than serial ones (32M-float norm: 8.0 ms with ``omp`` against 4.3 ms with plain threads, the
memory-bandwidth bound). Plain threads over ``nogil`` kernels cost ~30-50 us per launch, are
safe to call from several Python threads at once, and leave the user's threading layer alone.
(The spinning is also what makes an OpenMP loop start at once when nothing else runs: timed
alone, back to back, a 6M-float ``prange`` read loop beat the same loop on plain threads by
~15% on the 2-vCPU test VM, whose idle threads take 0.2-0.35 ms to wake; ``claim_run`` makes
up part of that without a thread spinning between calls.)

Two ways to split: ``split_run`` hands each thread one fixed range of items; ``claim_run`` lets
threads take small batches from a shared counter (``_claims``), so a thread that starts late or
is descheduled does less, and the caller spins instead of sleeping for the last batches. The
clip kernels use ``claim_run``; the recurrent and matrix kernels, short and evenly split,
``split_run``.

Fork: a child made by ``os.fork`` (``multiprocessing``'s default on Linux) inherits the pool
object but none of its threads, so work submitted to it would wait forever; the pool is
forgotten in the child (``os.register_at_fork``) and a new one starts on first use.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .config import CLAIMS_PER_THREAD, SPIN_POLLS

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
    pool = _pool(n - 1)
    jobs = [pool.submit(kernel, *args, c * n_items // n, (c + 1) * n_items // n)
            for c in range(1, n)]
    kernel(*args, 0, n_items // n)
    for job in jobs:
        job.result()


def claim_run(kernel: Callable[..., Any], n_items: int, n_threads: int, *args: Any,
              passes: int = 1) -> None:
    """Run ``kernel(*args, claims)`` on ``n_threads`` threads (the calling thread one of them)
    until all ``n_items`` items are done. The kernel takes batches with ``_claims.claim`` and
    returns how many items it did; each item's results must not depend on the thread. With
    ``passes`` > 1, ``claims`` has one row per pass and the kernel returns the items it did
    in the last pass (it marks a pass it skips as done).

    Returns as soon as every item is done: a pool thread that wakes after that finds nothing
    left to claim and writes no gradient (a fused kernel's late thread recomputes the same
    total and coefficient into its result array). An error in any thread stops further claims and is
    raised here once every thread has stopped.
    """
    from ._claims import close, new_claims, wait_done

    n = max(1, min(n_threads, n_items))
    claims = new_claims(-(-n_items // (n * CLAIMS_PER_THREAD)), passes)
    arg = claims[0] if passes == 1 else claims
    if n == 1:
        kernel(*args, arg)
        return
    pool = _pool(n - 1)
    jobs = [pool.submit(kernel, *args, arg) for _ in range(1, n)]
    try:
        mine = kernel(*args, arg)
    except BaseException:
        close(claims, n_items)
        for job in jobs:
            job.exception()  # no thread may still write when the error is raised
        raise
    if mine == n_items:
        return  # the pool threads found (or will find) nothing to claim
    while not wait_done(claims[-1], n_items, SPIN_POLLS):
        if any(job.done() for job in jobs):  # one failed, or several are still busy: block
            break
    else:
        return
    close(claims, n_items)
    for job in jobs:
        job.exception()
    for job in jobs:
        job.result()


def _pool(workers: int) -> ThreadPoolExecutor:
    if not _POOL or _POOL[1] < workers:
        _POOL[:] = [ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tinyclipnn"),
                    workers]
    return _POOL[0]
