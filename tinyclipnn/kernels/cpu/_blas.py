"""Matrix products for the layers and the recurrent kernels, with BLAS's own threads kept idle.

An OpenBLAS call at 2 threads leaves a worker spinning for ~0.1 s, which then competes with the
recurrent kernels' threads; so the large products run with every BLAS single-threaded
(``runtime.one_blas_thread``) and their rows split over our own threads (`matmul`).
"""

from __future__ import annotations

import numpy as np

from ..config import BLAS_SERIAL_WORK, SPLIT_MIN_WORK
from ..runtime import max_threads, one_blas_thread, split_run


def _rows(a, b, out, lo, hi):
    np.matmul(a[lo:hi], b, out=out[lo:hi])


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` for 2-D arrays, its rows split over `max_threads` threads (numpy releases the
    GIL in BLAS); meant for use inside ``one_blas_thread``. Rows are independent: only BLAS
    rounding may differ with the split."""
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), np.result_type(a, b))
    n = max_threads() if a.shape[0] * a.shape[1] * b.shape[1] >= SPLIT_MIN_WORK else 1
    split_run(_rows, a.shape[0], n, a, b, out)
    return out


def gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` for 2-D arrays as every layer of a model runs it: every BLAS single-threaded
    and the rows split over our threads (`matmul`). On the 2-core Zen 4 VM under load, one 3-D
    ``x @ W.T`` at 2 BLAS threads (32 GEMMs) took 0.5 s once in every few calls (0.6 ms
    typically). Products of at most ``BLAS_SERIAL_WORK`` multiply-adds go straight to numpy:
    OpenBLAS runs them on one thread anyway (an MLP step does nine small products)."""
    if a.shape[0] * a.shape[1] * b.shape[1] <= BLAS_SERIAL_WORK:
        return np.matmul(a, b, out=out)
    with one_blas_thread():
        return matmul(a, b, out)
