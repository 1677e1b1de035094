"""Process state of the kernels, in one place: the lock, the thread pool, BLAS thread counts,
the workspace of reusable scratch arrays and the identity caches, with the one at-fork hook
that resets them.

A child made by ``os.fork`` (``multiprocessing``'s default on Linux) inherits all of this but
only the thread that forked: a pool whose threads are gone (work handed to it would wait
forever), a lock another parent thread may have held, BLAS counts set to 1 by a parent thread
inside `one_blas_thread` (no one would restore them), and pooled arrays that are the parent's
copy-on-write pages. `_reset_in_child`, registered once with ``os.register_at_fork``, starts
each afresh; cache entries stay valid (same objects at the same addresses).

Plain Python: importing this imports neither numba nor threadpoolctl nor the thread pool's
modules (all on first use).

Why a pool of our own and not ``prange``: numba's threading layer is process-global, and its
default OpenMP layer spin-waits after every launch; on a 2-core machine that made parallel
kernels 1.5-4x slower than serial ones (32M-float norm: 8.0 ms with ``omp`` against 4.3 ms
with plain threads, the memory-bandwidth bound). Plain threads over ``nogil`` kernels cost
~30-50 us per launch, are safe to call from several Python threads at once, and leave the
user's threading layer alone. (Timed alone, back to back, a 6M-float ``prange`` read loop beat
plain threads by ~15% on the 2-vCPU test VM, whose idle threads take 0.2-0.35 ms to wake;
``claim_run`` makes up part of that without a thread spinning between calls.)
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from operator import is_
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import (
    CHUNK,
    CLAIMS_PER_THREAD,
    NORM_BLOCK,
    SPIN_POLLS,
    WORKSPACE_MAX_BYTES,
    WORKSPACE_MIN_BYTES,
)

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

_lock = threading.Lock()  # guards every structure below that several threads update
_pool: ThreadPoolExecutor | None = None  # created on first parallel use
_pool_size = 0
_get_num_threads: Callable[[], int] | None = None  # numba's (or a CPU count), found on first use
_blas_libs: list[OpenBlasThreads] | None = None  # found on first use
_blas_depth = 0  # users inside `one_blas_thread` (nested or concurrent)
_blas_saved: list[int] = []  # each BLAS's thread count before the outermost user entered
_workspace: dict[tuple, list[np.ndarray]] = {}  # (shape, dtype) -> arrays, in insertion order
_workspace_bytes = 0
_warned: set[str] = set()  # keys `first_time` has seen


def _reset_in_child() -> None:
    """After fork: a new lock, no pool (a new one starts on first use), BLAS counts back if a
    parent thread was inside `one_blas_thread`, and an empty workspace."""
    global _lock, _pool, _pool_size, _blas_depth, _workspace, _workspace_bytes
    _lock = threading.Lock()
    _pool, _pool_size = None, 0
    if _blas_depth and _blas_libs:
        for lib, n in zip(_blas_libs, _blas_saved, strict=True):
            lib.set(n)
    _blas_depth = 0
    _workspace, _workspace_bytes = {}, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)


def first_time(key: str) -> bool:
    """True the first time ``key`` is asked about in this process (one warning per process)."""
    with _lock:
        if key in _warned:
            return False
        _warned.add(key)
        return True


# ---- the thread pool ----------------------------------------------------------------------

def max_threads() -> int:
    """Threads a kernel may use: ``numba.get_num_threads()`` (``NUMBA_NUM_THREADS``), or the
    CPU count when numba is not installed (numpy-only paths that split work)."""
    global _get_num_threads
    if _get_num_threads is None:
        try:
            from numba import get_num_threads
        except ImportError:
            def get_num_threads() -> int:
                return os.cpu_count() or 1
        _get_num_threads = get_num_threads
    return _get_num_threads()


def _thread_pool(workers: int) -> ThreadPoolExecutor:
    # imported here: concurrent.futures brings logging and queue (~15 ms of `import tinyclipnn`)
    from concurrent.futures import ThreadPoolExecutor

    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < workers:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tinyclipnn")
            _pool_size = workers
        return _pool


def split_run(kernel: Callable[..., Any], n_items: int, n_threads: int, *args: Any) -> None:
    """Run ``kernel(*args, lo, hi)`` over ``[0, n_items)`` cut into ``n_threads`` contiguous
    ranges, the calling thread taking the first. Each range's results must not depend on
    how the items were split (so results are identical for any thread count). The recurrent
    and matrix kernels, short and evenly split, use this."""
    n = max(1, min(n_threads, n_items))
    if n == 1:
        kernel(*args, 0, n_items)
        return
    pool = _thread_pool(n - 1)
    jobs = [pool.submit(kernel, *args, c * n_items // n, (c + 1) * n_items // n)
            for c in range(1, n)]
    kernel(*args, 0, n_items // n)
    for job in jobs:
        job.result()


def claim_run(kernel: Callable[..., Any], n_items: int, n_threads: int, *args: Any,
              passes: int = 1) -> None:
    """Run ``kernel(*args, claims)`` on ``n_threads`` threads (the calling thread one of them)
    until all ``n_items`` items are done. Items are norm blocks (``cpu._segments``); the
    kernel takes batches of at least ``CHUNK`` elements' worth of them with
    ``cpu._claims.claim`` and returns how many items it did; each item's results
    must not depend on the thread. With ``passes`` > 1, ``claims`` has one row per pass and
    the kernel returns the items it did in the last pass (it marks a pass it skips as done).
    The clip kernels use this: a thread that starts late or is descheduled does less, and the
    caller spins instead of sleeping for the last batches.

    Returns as soon as every item is done: a pool thread that wakes after that finds nothing
    left to claim and writes no gradient (a fused kernel's late thread recomputes the same
    total and coefficient into its result array). An error in any thread stops further claims
    and is raised here once every thread has stopped.
    """
    from .cpu._claims import close, new_claims, wait_done

    n = max(1, min(n_threads, n_items))
    batch = max(CHUNK // NORM_BLOCK, -(-n_items // (n * CLAIMS_PER_THREAD)))
    claims = new_claims(batch, passes)
    arg = claims[0] if passes == 1 else claims
    if n == 1:
        kernel(*args, arg)
        return
    pool = _thread_pool(n - 1)
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


# ---- BLAS thread counts -------------------------------------------------------------------

class OpenBlasThreads:
    """The thread-count getter and setter of one loaded OpenBLAS, called directly.

    threadpoolctl finds the libraries and their symbols' spelling; its own setter is not used:
    it lets only the first Python thread that sets a limit change it ("other threads silently
    do nothing", threadpoolctl >= 3.6), while `one_blas_thread` is entered from any thread and
    counts its users itself; and it costs ~9 us per enter and exit against ~1 us here."""

    __slots__ = ("get", "set")

    def __init__(self, get: Callable[[], int], set_: Callable[[int], Any]) -> None:
        self.get, self.set = get, set_


def blas_libraries() -> list[OpenBlasThreads]:
    """Every OpenBLAS loaded: numpy's, and scipy's (which numba's ``np.dot`` calls: loaded
    here first so that both are found). Other BLAS builds are left alone (no spinning workers
    known). Found once, outside the lock (it imports)."""
    global _blas_libs
    if _blas_libs is not None:
        return _blas_libs
    found = []
    try:
        import scipy.linalg.cython_blas  # noqa: F401 - loads scipy's BLAS
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - both are dependencies; else BLAS is left alone
        controllers = []
    else:
        controllers = ThreadpoolController().select(internal_api="openblas").lib_controllers
    for lib in controllers:
        names = [n for n in getattr(lib, "check_symbols", ()) if hasattr(lib.dynlib, n)]
        if names:  # e.g. scipy_openblas_get_num_threads64_ and its setter
            get = getattr(lib.dynlib, names[0])
            set_ = getattr(lib.dynlib, names[0].replace("_get_", "_set_"))
            found.append(OpenBlasThreads(get, set_))
    with _lock:
        if _blas_libs is None:
            _blas_libs = found
        return _blas_libs


class _OneBlasThread:
    """The context manager `one_blas_thread` returns (a class, not a generator: entered
    several times per layer call, where ``contextlib.contextmanager`` costs ~5 us)."""

    __slots__ = ()

    def __enter__(self) -> None:
        global _blas_depth, _blas_saved
        libs = _blas_libs if _blas_libs is not None else blas_libraries()
        with _lock:
            if _blas_depth == 0:
                _blas_saved = [lib.get() for lib in libs]
                for lib, n in zip(libs, _blas_saved, strict=True):
                    if n != 1:
                        lib.set(1)
            _blas_depth += 1

    def __exit__(self, *exc: object) -> None:
        global _blas_depth
        with _lock:
            _blas_depth -= 1
            if _blas_depth == 0:
                for lib, n in zip(_blas_libs, _blas_saved, strict=True):
                    if n != 1:
                        lib.set(n)


_ONE_BLAS_THREAD = _OneBlasThread()


def one_blas_thread() -> _OneBlasThread:
    """Every BLAS single-threaded inside (``with one_blas_thread():``); the previous counts come
    back when the last of any concurrent (or nested) users leaves, so two Python threads cannot
    restore each other's 1.

    Why: after a multi-threaded call, an OpenBLAS worker busy-waits for ~0.1 s before sleeping,
    so one ``x @ W_ih.T`` at 2 BLAS threads left a core spinning through the whole recurrence
    and the 2-thread batch split gained nothing (fused LSTM forward 64/128: 4.4 ms serial,
    4.8 ms split; 2.7 ms split with BLAS at 1 thread). Large matmuls are split over our own
    threads instead (``cpu._blas.matmul``)."""
    return _ONE_BLAS_THREAD


# ---- workspace: reusable large scratch arrays -----------------------------------------------

def _refs(bufs: list[np.ndarray], i: int) -> int:
    return sys.getrefcount(bufs[i])


_IDLE = _refs([np.empty(1)], 0)  # the count of an array only the workspace references


def _drop_idle(need: int) -> None:
    """Forget idle arrays (oldest shapes first) until ``need`` more bytes fit."""
    global _workspace_bytes
    for key in list(_workspace):
        bufs = _workspace[key]
        for i in range(len(bufs) - 1, -1, -1):
            if _workspace_bytes + need <= WORKSPACE_MAX_BYTES:
                return
            if _refs(bufs, i) == _IDLE:
                _workspace_bytes -= bufs.pop(i).nbytes
        if not bufs:
            del _workspace[key]


def empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """Like ``np.empty``, but large arrays are recycled once unreferenced (contents undefined).

    Why: glibc serves multi-MB arrays from fresh pages and hands them back to the OS when they
    are freed, so a loop that allocates ~12 MB of temporaries per step (the fused LSTM: gates,
    saved states, their gradients) took ~3,000 minor page faults per step, ~30% of its time.
    Pooling alone would move the faults elsewhere: glibc raises its mmap / trim thresholds
    (from 128 KB) only when a large mapped block is freed, which recycled buffers never are;
    so a new pooled array is allocated and freed once first (untouched pages: no faults),
    letting glibc adapt as it would have to the unpooled buffers.

    Safety: an array is reused only when the workspace holds the sole reference
    (``sys.getrefcount``); every numpy view keeps its owner referenced through ``.base``, so a
    buffer still saved in an autograd graph, returned or viewed anywhere is never handed out
    twice. Only internal buffers come from here, never arrays returned to the user."""
    global _workspace_bytes
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if nbytes < WORKSPACE_MIN_BYTES:
        return np.empty(shape, dtype)
    key = (tuple(shape), dtype.str)
    with _lock:
        bufs = _workspace.setdefault(key, [])
        for i in range(len(bufs)):
            if _refs(bufs, i) == _IDLE:
                return bufs[i]
        np.empty(shape, dtype)  # allocated and freed at once: see the docstring
        out = np.empty(shape, dtype)
        if _workspace_bytes + nbytes > WORKSPACE_MAX_BYTES:
            _drop_idle(nbytes)
        if _workspace_bytes + nbytes <= WORKSPACE_MAX_BYTES:
            _workspace.setdefault(key, []).append(out)
            _workspace_bytes += nbytes
        return out


def clear_workspace() -> None:
    """Forget every pooled array (arrays still in use stay valid; they are just not reused)."""
    global _workspace, _workspace_bytes
    with _lock:
        _workspace, _workspace_bytes = {}, 0


# ---- identity caches ----------------------------------------------------------------------

_deref = weakref.ref.__call__


class IdentityCache:
    """``size`` most recent values, each keyed by the exact list of objects it was put with.

    An optimizer hands the same ~1,000 gradient arrays to the clip functions every step; work
    that depends only on which arrays they are (their addresses, a validated layout) is worth
    keeping. Entries hold the objects through weak references, so an id reused by a new object
    after the old one was freed never matches. The caller re-validates whatever mutable
    property it relies on (dtype, size, flags) on every hit. Thread-safe (the runtime lock).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[int, int], tuple[list, Any, list]] = OrderedDict()

    def get(self, objs: Sequence[Any]) -> Any | None:
        """The value put with these very objects (same ones, same order), else None."""
        key = (len(objs), id(objs[0]) if objs else 0)
        with _lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
        if hit is None:
            return None
        refs, value, alive = hit
        if alive[0] and len(refs) == len(objs) and all(map(is_, map(_deref, refs), objs)):
            return value
        return None

    def put(self, objs: Sequence[Any], value: Any) -> None:
        """Keep ``value`` for ``objs`` (evicting the least recently used entry when full).
        An entry one of whose objects has died never matches again (a dead reference would
        otherwise compare equal to a None in the list looked up)."""
        alive = [True]  # a cell the weakref callbacks write (they cannot rebind a name)

        def died(_ref: weakref.ref, alive: list = alive) -> None:
            alive[0] = False

        refs = [weakref.ref(o, died) for o in objs]
        key = (len(objs), id(objs[0]) if objs else 0)
        with _lock:
            self._entries[key] = (refs, value, alive)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
