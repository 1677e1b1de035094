"""Reusable large scratch arrays, so a training loop does not page-fault its temporaries each step.

Why: glibc serves multi-MB arrays from fresh pages and hands them back to the OS when they are
freed (mmap / heap trimming), so a loop that allocates ~12 MB of temporaries per step (the fused
LSTM: gates, saved states, their gradients) takes ~3,000 minor page faults per step, ~30% of its
time. Tuning malloc would be process-global; instead `empty` keeps each large array it hands out
and hands it out again once nothing else references it.

Pooling alone would move the faults elsewhere: glibc raises its mmap / trim thresholds (from
128 KB) only when a large mapped block is freed, which recycled buffers never are, so every
~1 MB temporary of the surrounding ops (loss, gradients) would stay mapped per allocation. So
a new pooled array is allocated and freed once first (untouched pages: no faults): that free lets
glibc adapt as it would have to the unpooled buffers, and the kept copy comes from its heap.

Safety: an array is reused only when the pool holds the sole reference (``sys.getrefcount``);
every numpy view keeps its owner referenced through ``.base``, so a buffer still saved in an
autograd graph, returned to a caller or viewed anywhere is never handed out twice. Only internal
buffers go through here, never arrays returned to the user.
"""

from __future__ import annotations

import os
import sys
import threading

import numpy as np

MIN_BYTES = 256 * 1024  # smaller arrays come from malloc's heap cheaply: not pooled
MAX_BYTES = 256 * 1024 * 1024  # total kept; past it, idle arrays are dropped, oldest shape first

_LOCK = threading.Lock()
_POOL: dict[tuple, list[np.ndarray]] = {}  # (shape, dtype) -> arrays, in insertion order
_SIZE = [0]  # bytes held in _POOL


def _refs(bufs: list[np.ndarray], i: int) -> int:
    return sys.getrefcount(bufs[i])


_IDLE = _refs([np.empty(1)], 0)  # the count of an array only the pool references


def _drop_idle(need: int) -> None:
    """Forget idle arrays (oldest shapes first) until ``need`` more bytes fit under MAX_BYTES."""
    for key in list(_POOL):
        bufs = _POOL[key]
        for i in range(len(bufs) - 1, -1, -1):
            if _SIZE[0] + need <= MAX_BYTES:
                return
            if _refs(bufs, i) == _IDLE:
                _SIZE[0] -= bufs.pop(i).nbytes
        if not bufs:
            del _POOL[key]


def empty(shape: tuple[int, ...], dtype) -> np.ndarray:
    """Like ``np.empty``, but large arrays are recycled once unreferenced (contents undefined)."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if nbytes < MIN_BYTES:
        return np.empty(shape, dtype)
    key = (tuple(shape), dtype.str)
    with _LOCK:
        bufs = _POOL.setdefault(key, [])
        for i in range(len(bufs)):
            if _refs(bufs, i) == _IDLE:
                return bufs[i]
        np.empty(shape, dtype)  # allocated and freed at once: see the module docstring
        out = np.empty(shape, dtype)
        if _SIZE[0] + nbytes > MAX_BYTES:
            _drop_idle(nbytes)
        if _SIZE[0] + nbytes <= MAX_BYTES:
            _POOL.setdefault(key, []).append(out)
            _SIZE[0] += nbytes
        return out


def _reset_in_child() -> None:
    """After fork: a new lock (another thread may have held the old one) and an empty pool
    (the inherited arrays are copy-on-write pages of the parent's; reusing them would copy)."""
    global _LOCK
    _LOCK = threading.Lock()
    _POOL.clear()
    _SIZE[0] = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)


def clear() -> None:
    """Forget every pooled array (arrays still in use stay valid; they are just not reused)."""
    with _LOCK:
        _POOL.clear()
        _SIZE[0] = 0
