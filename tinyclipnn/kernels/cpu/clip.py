"""Numba CPU clipping primitives (the set of ``tinyclipnn.clip._pipeline``'s ``ClipBackend``).

Every function takes arrays that are contiguous (C or Fortran order) and share one float dtype
(float32 or float64); the caller (``tinyclipnn.clip``) validates that. The ``seg_*`` functions
also take ``plan(arrays)`` (a segment table) in place of the list, so several passes over the
same arrays look them up once. Reductions accumulate in
float64 over fixed chunks (see ``_segments``) that are combined in a fixed order, so results are
bit-identical for any thread count. Segments whose plain float64 sum overflows or underflows
are recomputed with scaling (max-abs first, then ``sum((|x|/m)**p)``), so finite inputs near
the dtype's maximum still give a finite, correct norm.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import reference
from .._jit import njit
from ..clip_decision import NonFinite, held_back
from ..config import COL_SUM_BLOCK, PARALLEL_MIN
from ..halfbits_numpy import cast_scalar
from ..runtime import claim_run, max_threads, split_run
from ._f16c_items import HAVE_F16C, run_items_f16c
from ._float_items import (
    CLAMP,
    FILL,
    NORM,
    SCALE,
    clamp_items,
    fill_items,
    norm_items,
    scale_items,
)
from ._fused import clip_f16c, clip_float, clip_lowp
from ._lowp_items import col_sum_lowp, run_items_lowp
from ._segments import SegmentTable, row_table, segment_table

_NO_COEFS = np.ones(1)


@njit(cache=True, nogil=True)
def _col_sum(x, out, lo_block, hi_block):
    rows, cols = x.shape
    for b in range(lo_block, hi_block):
        lo = b * COL_SUM_BLOCK
        hi = min(lo + COL_SUM_BLOCK, cols)
        acc = np.zeros(hi - lo, np.float64)
        for i in range(rows):
            for j in range(lo, hi):
                acc[j - lo] += x[i, j]
        for j in range(lo, hi):
            out[j] = acc[j - lo]


def _run(t: SegmentTable, op: int, arg: float = 0.0, coefs: np.ndarray = _NO_COEFS,
         scales: np.ndarray = _NO_COEFS) -> np.ndarray:
    """Run ``op`` over every work item of ``t``: threads only when the work is large."""
    n_items = t.seg.shape[0]
    out = np.empty(n_items, np.float64)
    threads = max_threads() if t.total >= PARALLEL_MIN else 1
    args = (op, t.addrs, t.sizes, t.seg, t.start, t.stop, float(arg), coefs, t.proto, out, scales)
    if t.kind == 1 and HAVE_F16C:
        claim_run(run_items_f16c, n_items, threads, *args, t.kind)
    elif t.kind:
        claim_run(run_items_lowp, n_items, threads, *args, t.kind)
    else:  # one runner per operation: a call compiles only what it runs
        items = (t.addrs, t.sizes, t.seg, t.start, t.stop)
        if op == NORM:
            claim_run(norm_items, n_items, threads, *items, float(arg), t.proto, out, scales)
        elif op == SCALE:
            claim_run(scale_items, n_items, threads, *items, coefs, t.proto)
        elif op == CLAMP:
            claim_run(clamp_items, n_items, threads, *items, float(arg), t.proto, out)
        else:
            claim_run(fill_items, n_items, threads, *items, float(arg), t.proto)
    return out


def _partials(t: SegmentTable, p: float) -> reference.Partials:
    scales = np.empty(t.seg.shape[0], np.float64)
    sums = _run(t, NORM, p, _NO_COEFS, scales)
    return sums, scales, t.first


def _norms(t: SegmentTable, p: float) -> np.ndarray:
    return reference.segment_norms(_partials(t, float(p)), float(p))


Arrays = Sequence[np.ndarray] | SegmentTable


# The segment table of a list of arrays (addresses and work items), to pass to several
# ``seg_*`` calls instead of the list (valid while the arrays keep dtype, size and memory).
plan = segment_table


def _table(arrays: Arrays) -> SegmentTable:
    return arrays if isinstance(arrays, SegmentTable) else segment_table(arrays)


def seg_partials(arrays: Arrays, norm_type: float) -> reference.Partials:
    """Chunk partials of each array (``reference.seg_partials`` semantics, fixed chunks)."""
    if not len(arrays):
        return np.zeros(0), np.zeros(0), np.zeros(1, np.int64)
    return _partials(_table(arrays), float(norm_type))


def _scale_table(t: SegmentTable, coefs: np.ndarray) -> None:
    _run(t, SCALE, 0.0, np.ascontiguousarray(coefs, dtype=np.float64))


def seg_norms(arrays: Arrays, norm_type: float) -> np.ndarray:
    """p-norm of each array (all elements), float64 array of shape (len(arrays),)."""
    if not len(arrays):
        return np.zeros(0)
    return _norms(_table(arrays), norm_type)


def seg_scale_(arrays: Arrays, coefs: np.ndarray) -> None:
    """In place ``arrays[i] *= coefs[i]`` (product in float64); coefficient 1 writes nothing."""
    if len(arrays):
        _scale_table(_table(arrays), coefs)


def seg_clip_norm_(arrays: Arrays, norm_type: float, max_norm: float, eps: float,
                   policy: NonFinite, unscale: float = 1.0) -> tuple[float, float]:
    """Global-norm clip of all arrays as one vector in one threaded call (``_fused``):
    ``total = ||arrays||_p * unscale``, then ``reference.clip_with_norm_``'s scaling (the
    ``clip_decision``). Returns ``(total, coef)``."""
    t = arrays if isinstance(arrays, SegmentTable) else segment_table(arrays) if arrays else None
    if t is None or not t.size_list:
        return reference.seg_clip_norm_([], norm_type, max_norm, eps, policy, unscale)
    n_items = t.seg.shape[0]
    out, scales, res = np.empty(n_items), np.empty(n_items), np.zeros(2)
    threads = max_threads() if t.total >= PARALLEL_MIN else 1
    args = (t.addrs, t.sizes, t.seg, t.start, t.stop, t.proto, out, scales, float(norm_type),
            float(max_norm), float(eps), float(unscale), int(policy), res,
            np.empty(t.sizes.shape[0]))
    if t.kind == 1 and HAVE_F16C:
        claim_run(clip_f16c, n_items, threads, *args, t.kind, passes=2)
    elif t.kind:
        claim_run(clip_lowp, n_items, threads, *args, t.kind, passes=2)
    else:
        claim_run(clip_float, n_items, threads, *args, passes=2)
    if policy == NonFinite.ZERO and held_back(res[0], policy):  # the kernels leave it to us
        _run(t, FILL, 0.0)
    return float(res[0]), float(res[1])


def seg_clamp_(arrays: Arrays, clip_value: float) -> int:
    """In place clamp to [-clip_value, clip_value] (NaN kept); returns how many changed."""
    if not len(arrays):
        return 0
    t = _table(arrays)
    return int(_run(t, CLAMP, cast_scalar(clip_value, t.dtype)).sum())


def seg_fill_(arrays: Arrays, value: float) -> None:
    """In place fill every element with ``value``."""
    if len(arrays):
        _run(_table(arrays), FILL, value)


def row_norms(x2d: np.ndarray, norm_type: float = 2.0) -> np.ndarray:
    """p-norm of each row of a C-contiguous (rows, cols) array: float64 (rows,)."""
    return _norms(row_table(x2d), norm_type)


def row_scale_(x2d: np.ndarray, coefs: np.ndarray) -> None:
    """In place ``x2d[i, :] *= coefs[i]`` for a C-contiguous (rows, cols) array."""
    _scale_table(row_table(x2d), coefs)


def col_sum(x2d: np.ndarray) -> np.ndarray:
    """Sum over rows of a C-contiguous (rows, cols) array, accumulated in float64:
    shape (cols,), dtype of ``x2d`` (16-bit floats rounded to nearest-even)."""
    out = np.empty(x2d.shape[1], x2d.dtype)
    blocks = (x2d.shape[1] + COL_SUM_BLOCK - 1) // COL_SUM_BLOCK
    threads = max_threads() if x2d.size >= PARALLEL_MIN else 1
    kind = {np.dtype(np.float16): 1, np.dtype(np.uint16): 2}.get(x2d.dtype, 0)
    if kind:
        split_run(col_sum_lowp, blocks, threads, x2d.view(np.uint16), out.view(np.uint16), kind,
                  COL_SUM_BLOCK)
    else:
        split_run(_col_sum, blocks, threads, x2d, out)
    return out
