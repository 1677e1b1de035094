"""Numba CPU clipping primitives (the set documented in ``tinyclipnn.clip._backend``).

Every function takes arrays that are contiguous (C or Fortran order) and share one float dtype
(float32 or float64); the caller (``tinyclipnn.clip``) validates that. Reductions accumulate in
float64 over fixed chunks (see ``_segments``) that are combined in a fixed order, so results are
bit-identical for any thread count. Segments whose plain float64 sum overflows or underflows
are recomputed with scaling (max-abs first, then ``sum((|x|/m)**p)``), so finite inputs near
the dtype's maximum still give a finite, correct norm.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._jit import njit
from ._segments import SegmentTable, row_table, segment_table, segment_view
from ._threads import max_threads, split_run

_FM = {"reassoc", "contract"}  # vectorised sums; no nnan/ninf, so inf/NaN stay IEEE
_TINY = 1e-290  # sums below this may have underflowed: recompute scaled
_COL_BLOCK = 1024
PARALLEL_MIN = 1 << 18  # elements: below this, thread start-up costs more than it saves
_NORM, _SCALE, _CLAMP, _FILL = 0, 1, 2, 3
_NO_COEFS = np.ones(1)


@njit(cache=True, fastmath=_FM)
def _sum_sq(y):
    s = 0.0
    for i in range(y.size):  # y is a whole 1-D view: the loop vectorises
        v = np.float64(y[i])
        s += v * v
    return s


@njit(cache=True, fastmath=_FM)
def _sum_abs(y):
    s = 0.0
    for i in range(y.size):
        s += abs(np.float64(y[i]))
    return s


@njit(cache=True, fastmath=_FM)
def _sum_pow(y, p, scale):
    s = 0.0
    for i in range(y.size):
        s += (abs(np.float64(y[i])) / scale) ** p
    return s


@njit(cache=True)
def _max_abs(y):
    m = 0.0
    for i in range(y.size):
        a = abs(np.float64(y[i]))
        if a > m:
            m = a
        elif a != a:
            return a
    return m


@njit(cache=True)
def _reduce(y, p):
    """sum |y|^p in float64, or max |y| (NaN-propagating) when p is inf."""
    if p == 2.0:
        return _sum_sq(y)
    if p == 1.0:
        return _sum_abs(y)
    if p == np.inf:
        return _max_abs(y)
    return _sum_pow(y, p, 1.0)


@njit(cache=True)
def _root(s, p):
    if p == 2.0:
        return np.sqrt(s)
    if p == 1.0 or p == np.inf:
        return s
    return s ** (1.0 / p)


@njit(cache=True, fastmath=_FM)
def _scale_chunk(y, c):
    for i in range(y.size):
        y[i] = y[i] * c  # product in float64, rounded to y's dtype


@njit(cache=True)
def _clamp_chunk(y, c):
    """Clamp to [-c, c] with branch-free selects (vectorises); NaN stays NaN."""
    lo = y.dtype.type(-c)
    hi = y.dtype.type(c)
    n = 0
    for i in range(y.size):
        v = y[i]
        n += (v > hi) + (v < lo)
        w = hi if v > hi else v
        y[i] = lo if w < lo else w
    return n


@njit(cache=True)
def _item(op, k, addrs, sizes, seg, start, stop, arg, coefs, proto, out):
    """Work item k of operation ``op`` on its chunk; per-item results go to ``out[k]``."""
    s = seg[k]
    y = segment_view(addrs[s], sizes[s], proto)[start[k] : stop[k]]
    if op == _NORM:
        out[k] = _reduce(y, arg)
    elif op == _SCALE:
        if coefs[s] != 1.0:
            _scale_chunk(y, coefs[s])
    elif op == _CLAMP:
        out[k] = _clamp_chunk(y, arg)
    else:
        y[:] = arg


@njit(cache=True, nogil=True)
def _run_items(op, addrs, sizes, seg, start, stop, arg, coefs, proto, out, lo, hi):
    """Work items lo..hi-1 (``split_run`` hands each thread one range)."""
    for k in range(lo, hi):
        _item(op, k, addrs, sizes, seg, start, stop, arg, coefs, proto, out)


@njit(cache=True)
def _finish(partials, addrs, sizes, seg, p, proto):
    """Combine chunk partials per segment in order; rescue over/underflowed segments."""
    n = sizes.shape[0]
    acc = np.zeros(n, np.float64)
    for k in range(seg.shape[0]):
        s = seg[k]
        v = partials[k]
        if p == np.inf:
            if acc[s] == acc[s] and (v > acc[s] or v != v):
                acc[s] = v
        else:
            acc[s] += v
    out = np.empty(n, np.float64)
    for s in range(n):
        v = acc[s]
        if p != np.inf and v == v and not (_TINY < v < np.inf):
            x = segment_view(addrs[s], sizes[s], proto)
            m = _max_abs(x)
            if m == 0.0 or not np.isfinite(m):
                out[s] = m
            else:
                out[s] = m * _root(_sum_pow(x, p, m), p)
        else:
            out[s] = _root(v, p)
    return out


@njit(cache=True, nogil=True)
def _col_sum(x, out, lo_block, hi_block):
    rows, cols = x.shape
    for b in range(lo_block, hi_block):
        lo = b * _COL_BLOCK
        hi = min(lo + _COL_BLOCK, cols)
        acc = np.zeros(hi - lo, np.float64)
        for i in range(rows):
            for j in range(lo, hi):
                acc[j - lo] += x[i, j]
        for j in range(lo, hi):
            out[j] = acc[j - lo]


def _run(t: SegmentTable, op: int, arg: float = 0.0, coefs: np.ndarray = _NO_COEFS) -> np.ndarray:
    """Run ``op`` over every work item of ``t``: threads only when the work is large."""
    n_items = t.seg.shape[0]
    out = np.empty(n_items, np.float64)
    threads = max_threads() if t.total >= PARALLEL_MIN else 1
    split_run(_run_items, n_items, threads, op, t.addrs, t.sizes, t.seg, t.start, t.stop,
              float(arg), coefs, t.proto, out)
    return out


def _norms(t: SegmentTable, p: float) -> np.ndarray:
    return _finish(_run(t, _NORM, p), t.addrs, t.sizes, t.seg, float(p), t.proto)


def _scale_table(t: SegmentTable, coefs: np.ndarray) -> None:
    _run(t, _SCALE, 0.0, np.ascontiguousarray(coefs, dtype=np.float64))


def seg_norms(arrays: Sequence[np.ndarray], norm_type: float) -> np.ndarray:
    """p-norm of each array (all elements), float64 array of shape (len(arrays),)."""
    if not arrays:
        return np.zeros(0)
    return _norms(segment_table(arrays), norm_type)


def seg_scale_(arrays: Sequence[np.ndarray], coefs: np.ndarray) -> None:
    """In place ``arrays[i] *= coefs[i]`` (product in float64); coefficient 1 writes nothing."""
    if arrays:
        _scale_table(segment_table(arrays), coefs)


def seg_clamp_(arrays: Sequence[np.ndarray], clip_value: float) -> int:
    """In place clamp to [-clip_value, clip_value] (NaN kept); returns how many changed."""
    if not arrays:
        return 0
    t = segment_table(arrays)
    return int(_run(t, _CLAMP, float(t.proto.dtype.type(clip_value))).sum())


def seg_fill_(arrays: Sequence[np.ndarray], value: float) -> None:
    """In place fill every element with ``value``."""
    if arrays:
        _run(segment_table(arrays), _FILL, value)


def row_norms(x2d: np.ndarray, norm_type: float = 2.0) -> np.ndarray:
    """p-norm of each row of a C-contiguous (rows, cols) array: float64 (rows,)."""
    return _norms(row_table(x2d), norm_type)


def row_scale_(x2d: np.ndarray, coefs: np.ndarray) -> None:
    """In place ``x2d[i, :] *= coefs[i]`` for a C-contiguous (rows, cols) array."""
    _scale_table(row_table(x2d), coefs)


def col_sum(x2d: np.ndarray) -> np.ndarray:
    """Sum over rows of a C-contiguous (rows, cols) array, accumulated in float64:
    shape (cols,), dtype of ``x2d``."""
    out = np.empty(x2d.shape[1], x2d.dtype)
    blocks = (x2d.shape[1] + _COL_BLOCK - 1) // _COL_BLOCK
    split_run(_col_sum, blocks, max_threads() if x2d.size >= PARALLEL_MIN else 1, x2d, out)
    return out
