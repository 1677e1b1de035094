"""Keep OpenBLAS's own thread pools idle while our kernels split work over threads.

Two OpenBLAS copies are loaded: numpy's (``x @ w``) and scipy's (what numba's ``np.dot`` calls).
After a multi-threaded call, an OpenBLAS worker busy-waits for ~0.1 s before sleeping, so one
``x @ W_ih.T`` at 2 BLAS threads left a core spinning through the whole recurrence and the
2-thread batch split gained nothing (fused LSTM forward 64/128: 4.4 ms serial, 4.8 ms split;
2.7 ms split with BLAS at 1 thread). So inside `one_thread` both BLAS run single-threaded, and
the large matmuls are split over our threads by `matmul` instead. In a forked child the counts
are restored and the lock renewed (a child of a parent inside `one_thread` would keep 1 thread).
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading

import numpy as np

from ._threads import max_threads, split_run

_NAMES = [("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),  # scipy's
          ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),  # numpy's
          ("openblas_set_num_threads", "openblas_get_num_threads")]
_LOCK = threading.Lock()
_STATE: dict = {"libs": None, "depth": 0, "saved": []}  # libs: [(set, get)] found on first use


def _reset_in_child() -> None:
    """After fork: a new lock (another thread may have held the old one), and the thread
    counts back if a parent thread was inside `one_thread` (no one would restore them here)."""
    global _LOCK
    _LOCK = threading.Lock()
    if _STATE["depth"] and _STATE["libs"]:
        for (set_, _), n in zip(_STATE["libs"], _STATE["saved"], strict=True):
            set_(n)
    _STATE["depth"] = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)


def _find() -> list:
    """Thread-count setters of the OpenBLAS copies bundled with numpy and scipy (if any)."""
    found = []
    for pkg in ("numpy", "scipy"):
        try:
            base = os.path.dirname(os.path.dirname(__import__(pkg).__file__))
            for path in sorted(glob.glob(os.path.join(base, pkg + ".libs", "*openblas*"))):
                lib = ctypes.CDLL(path)
                for set_name, get_name in _NAMES:
                    if hasattr(lib, set_name) and hasattr(lib, get_name):
                        found.append((getattr(lib, set_name), getattr(lib, get_name)))
                        break
        except (ImportError, OSError):  # pragma: no cover - other BLAS builds: leave them alone
            pass
    return found


class _OneThread:
    """The context manager `one_thread` returns (a class, not a generator: entered several
    times per layer call, ~1 us against ~5 us for ``contextlib.contextmanager``)."""

    __slots__ = ()

    def __enter__(self) -> None:
        with _LOCK:
            if _STATE["libs"] is None:
                _STATE["libs"] = _find()
            if _STATE["depth"] == 0:
                _STATE["saved"] = saved = [get() for _, get in _STATE["libs"]]
                for (set_, _), n in zip(_STATE["libs"], saved, strict=True):
                    if n != 1:
                        set_(1)
            _STATE["depth"] += 1

    def __exit__(self, *exc: object) -> None:
        with _LOCK:
            _STATE["depth"] -= 1
            if _STATE["depth"] == 0:
                for (set_, _), n in zip(_STATE["libs"], _STATE["saved"], strict=True):
                    if n != 1:
                        set_(n)


_ONE_THREAD = _OneThread()


def one_thread() -> _OneThread:
    """Both BLAS single-threaded inside (``with one_thread():``); the previous counts come back
    when the last of any concurrent (or nested) users leaves, so two Python threads cannot
    restore each other's 1."""
    return _ONE_THREAD


# OpenBLAS's own threshold: a GEMM of m * n * k <= 65536 * GEMM_MULTITHREAD_THRESHOLD (4 by
# default) multiply-adds runs single-threaded (interface/gemm.c)
BLAS_SERIAL_WORK = 65536 * 4
SPLIT_MIN_WORK = 4_000_000  # multiply-adds before `matmul` splits over threads (~50 us a split)


def _rows(a, b, out, lo, hi):
    np.matmul(a[lo:hi], b, out=out[lo:hi])


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` for 2-D arrays, its rows split over `max_threads` threads (numpy releases the
    GIL in BLAS); meant for use inside `one_thread`. Rows are independent: only BLAS rounding
    may differ with the split."""
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), np.result_type(a, b))
    n = max_threads() if a.shape[0] * a.shape[1] * b.shape[1] >= SPLIT_MIN_WORK else 1
    split_run(_rows, a.shape[0], n, a, b, out)
    return out


def gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` for 2-D arrays as every layer of a model runs it: both BLAS single-threaded and
    the rows split over our threads (`matmul`). A multi-threaded OpenBLAS call leaves a worker
    spinning for ~0.1 s, which then competes with the recurrent kernels' threads; on the 2-core
    Zen 4 VM under load, one 3-D ``x @ W.T`` at 2 BLAS threads (32 GEMMs) took 0.5 s once in
    every few calls (0.6 ms typically). Products of at most `BLAS_SERIAL_WORK` multiply-adds go
    straight to numpy: OpenBLAS runs them on one thread anyway, and the thread-count switch
    costs ~4 us (an MLP step does nine small products)."""
    if a.shape[0] * a.shape[1] * b.shape[1] <= BLAS_SERIAL_WORK:
        return np.matmul(a, b, out=out)
    with one_thread():
        return matmul(a, b, out)
