"""Elementwise kernels: scale (per segment, or by the clip coefficient read from device
memory), clamp, fill, column sum. Each block owns one chunk of elements (``_config``); the
clamp's count of changed elements is reduced per block in shared memory and added with one
integer atomic per block (integer addition is exact, so the count is deterministic)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import float64, int64

from ..clip_decision import NonFinite, clip_coefficient, held_back
from . import _config, _segments
from ._reduce import block_sum, flat_chunk
from ._runtime import cuda_module

cuda = cuda_module()
_SH = _config.MAX_BLOCK
_coefficient = cuda.jit(device=True)(clip_coefficient)
_held_back = cuda.jit(device=True)(held_back)


@cuda.jit
def _seg_scale(x, seg, start, stop, coefs):
    b = cuda.blockIdx.x
    c = coefs[seg[b]]
    if c != 1.0:
        for i in range(start[b] + cuda.threadIdx.x, stop[b], cuda.blockDim.x):
            x[i] = float64(x[i]) * c  # float64 product, rounded once to x's dtype


@cuda.jit
def _clip_scale(x, chunk, total, max_norm, eps, policy, coef_out):
    t = total[0]
    coef = _coefficient(t, max_norm, eps, policy)
    zero = policy == NonFinite.ZERO and _held_back(t, policy)
    if cuda.blockIdx.x == 0 and cuda.threadIdx.x == 0:
        coef_out[0] = coef
    if coef != 1.0:  # held back: 1.0, or 0.0 with ZERO
        lo, hi = flat_chunk(x.size, chunk)
        for i in range(lo + cuda.threadIdx.x, hi, cuda.blockDim.x):
            x[i] = 0.0 if zero else float64(x[i]) * coef


@cuda.jit
def _fill(x, chunk, value):
    lo, hi = flat_chunk(x.size, chunk)
    for i in range(lo + cuda.threadIdx.x, hi, cuda.blockDim.x):
        x[i] = value


@cuda.jit(device=True)
def _add_block_count(k, count):
    """Sum each thread's count ``k`` over the block and add it to ``count[0]`` (integer
    atomics: the total does not depend on the order)."""
    tid = cuda.threadIdx.x
    sh = cuda.shared.array(_SH, int64)
    sh[tid] = k
    block_sum(sh, tid, cuda.blockDim.x)
    if tid == 0 and sh[0] != 0:
        cuda.atomic.add(count, 0, sh[0])


@cuda.jit
def _clamp(x, chunk, c, count):
    k = 0
    lo, hi = flat_chunk(x.size, chunk)
    for i in range(lo + cuda.threadIdx.x, hi, cuda.blockDim.x):
        v = x[i]
        if v > c:
            x[i] = c
            k += 1
        elif v < -c:
            x[i] = -c
            k += 1
    _add_block_count(k, count)


@cuda.jit
def _col_sum(x, out):
    j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    if j < x.shape[1]:
        acc = 0.0
        for i in range(x.shape[0]):
            acc += float64(x[i, j])
        out[j] = acc


def _launch(kernel: Any, flat: Any, *args: Any) -> None:
    """``kernel(flat, chunk, *args)`` with one block per chunk of a flat device array."""
    if flat.size:
        kernel[_config.blocks_for(flat.size), _config.block()](flat, _config.chunk(), *args)


def seg_scale(flat: Any, sizes: np.ndarray, coefs: Any) -> None:
    """``segment[i] *= coefs[i]`` over one flat device array (coefs: device float64)."""
    t = _segments.table(sizes)
    if t.nblocks:
        _seg_scale[t.nblocks, _config.block()](flat, t.seg, t.start, t.stop, coefs)


def clip_scale(flat: Any, total: Any, max_norm: float, eps: float, policy: int, coef: Any) -> None:
    """Scale by ``clip_decision.clip_coefficient`` of ``total[0]`` (read on the device;
    ``policy``: a ``NonFinite`` code); the coefficient goes to coef[0]."""
    # launched even for an empty array: the kernel also writes the coefficient
    _clip_scale[_config.blocks_for(flat.size), _config.block()](
        flat, _config.chunk(), total, float(max_norm), float(eps), int(policy), coef)


def fill(flat: Any, value: float) -> None:
    """Every element of a flat device array set to ``value``."""
    _launch(_fill, flat, float(value))


def clamp(flat: Any, c: float, count: Any) -> None:
    """Clamp to [-c, c] in place (NaN kept); the number changed is added to count[0]."""
    _launch(_clamp, flat, float(c), count)


def col_sum(x2d: Any, out: Any) -> None:
    """``out[j] = sum_i x2d[i, j]`` accumulated in float64 (one thread per column)."""
    cols = x2d.shape[1]
    if cols:
        b = _config.block()
        _col_sum[(cols + b - 1) // b, b](x2d, out)
