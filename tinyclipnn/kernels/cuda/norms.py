"""p-norm kernels: per-segment norms of a segmented flat buffer (tensors of a GradBuffer,
rows for AGC and per-sample clipping) and the global norm, all staying on the device.

Pass 1 (``_partials``): each block reduces its chunk to ``sum |x|^p`` and ``max |x|`` in
float64. ``_finish``: one block per segment combines its blocks' partials in block order and
takes the root; a finite segment whose sum overflowed (inf) or underflowed (< 1e-290) is marked
by storing its max in ``scales``. Pass 2 (same kernels, ``rescue=True``) recomputes only the
marked segments as ``m * (sum (|x|/m)^p)^(1/p)``; other blocks return at once, so no host
check is needed between the passes. Fixed chunks and tree reductions: bit-identical reruns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numba import float64

from ..config import TINY
from . import _config, _segments
from ._arrays import runs
from ._reduce import block_sum, block_sum_max, nan_max, pow_abs, root
from ._runtime import cuda_module

cuda = cuda_module()
_SH = _config.MAX_BLOCK


@cuda.jit
def _partials(x, seg, start, stop, p, rescue, scales, psum, pmax):
    b = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    n = cuda.blockDim.x
    sh_s = cuda.shared.array(_SH, float64)
    sh_m = cuda.shared.array(_SH, float64)
    sc = scales[seg[b]] if rescue else 1.0
    s = 0.0
    m = 0.0
    if sc != 0.0:
        for i in range(start[b] + tid, stop[b], n):
            v = abs(float64(x[i]))
            if rescue:
                v = v / sc
            m = nan_max(m, v)
            if p != math.inf:
                s += pow_abs(v, p)
    sh_s[tid] = s
    sh_m[tid] = m
    block_sum_max(sh_s, sh_m, tid, n)
    if tid == 0:
        psum[b] = sh_s[0]
        pmax[b] = sh_m[0]


@cuda.jit
def _finish(first, psum, pmax, p, rescue, scales, norms):
    g = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    n = cuda.blockDim.x
    sh_s = cuda.shared.array(_SH, float64)
    sh_m = cuda.shared.array(_SH, float64)
    if rescue and scales[g] == 0.0:
        return  # the whole block leaves together: no barrier is skipped by part of it
    s = 0.0
    m = 0.0
    for k in range(first[g] + tid, first[g + 1], n):
        s += psum[k]
        m = nan_max(m, pmax[k])
    sh_s[tid] = s
    sh_m[tid] = m
    block_sum_max(sh_s, sh_m, tid, n)
    if tid == 0:
        s = sh_s[0]
        m = sh_m[0]
        sc = 0.0
        if rescue:
            out = scales[g] * root(s, p)
        elif p == math.inf:
            out = m
        elif s != s or (s > TINY and s < math.inf):
            out = root(s, p)
        elif m == 0.0 or math.isinf(m) or m != m:
            out = m
        else:
            out = math.nan  # replaced by the rescue pass
            sc = m
        norms[g] = out
        if not rescue:
            scales[g] = sc


@cuda.jit
def _combine(norms, p, total):
    """One block: total = p-norm of the vector of norms (scaled by their max), NaN wins."""
    tid = cuda.threadIdx.x
    n = cuda.blockDim.x
    sh_s = cuda.shared.array(_SH, float64)
    sh_m = cuda.shared.array(_SH, float64)
    m = 0.0
    for k in range(tid, norms.size, n):
        m = nan_max(m, norms[k])
    sh_s[tid] = 0.0
    sh_m[tid] = m
    block_sum_max(sh_s, sh_m, tid, n)
    m = sh_m[0]
    ok = m > 0.0 and not math.isinf(m) and p != math.inf
    s = 0.0
    if ok:
        for k in range(tid, norms.size, n):
            s += (norms[k] / m) ** p
    sh_s[tid] = s
    block_sum(sh_s, tid, n)
    if tid == 0:
        total[0] = m * sh_s[0] ** (1.0 / p) if ok else m


_scratch: dict[str, Any] = {}  # grow-only float64 device buffers, by name


def _scratch_buffer(name: str, n: int) -> Any:
    """``n`` float64 of device scratch reused between calls (launches are stream-ordered)."""
    buf = _scratch.get(name)
    if buf is None or buf.size < n:
        buf = _scratch[name] = cuda.device_array(max(n, _config.SCRATCH_MIN), np.float64)
    return buf[:n]


def _run_norms(flat: Any, sizes: np.ndarray, p: float, out: Any) -> None:
    """Norms of the segments ``sizes`` of one flat device array into device ``out``."""
    t = _segments.table(sizes)
    bs = _config.block()
    scales = _scratch_buffer("scales", t.nseg)
    psum = _scratch_buffer("psum", max(t.nblocks, 1))
    pmax = _scratch_buffer("pmax", max(t.nblocks, 1))
    for rescue in (False, True):
        if t.nblocks:
            _partials[t.nblocks, bs](flat, t.seg, t.start, t.stop, p, rescue, scales, psum, pmax)
        _finish[t.nseg, bs](t.first, psum, pmax, p, rescue, scales, out)


def seg_norms_device(devs: Sequence[Any], p: float) -> Any:
    """p-norm of each 1-D device array: device float64 ``(len(devs),)``, no host sync."""
    out = cuda.device_array(len(devs), np.float64)
    k = 0
    for flat, sizes in runs(devs):
        _run_norms(flat, sizes, float(p), out[k : k + sizes.size])
        k += sizes.size
    return out


def row_norms_device(flat: Any, rows: int, cols: int, p: float) -> Any:
    """p-norm of each row of a C-order (rows, cols) array given as its 1-D view: device
    float64 ``(rows,)``; rows of up to one chunk are one block each."""
    out = cuda.device_array(rows, np.float64)
    if rows:
        _run_norms(flat, np.full(rows, cols, np.int64), float(p), out)
    return out


def combine_device(norms: Any, p: float) -> Any:
    """Global p-norm of a device vector of norms: device float64 ``(1,)``. A single norm is
    returned as is (bit-identical to combining it)."""
    if norms.size == 1:
        return norms
    if norms.size == 0:
        return cuda.to_device(np.zeros(1))
    total = cuda.device_array(1, np.float64)
    _combine[1, _config.block()](norms, float(p), total)
    return total
