"""Work items for float16 / bfloat16 arrays (as uint16 bits): each chunk is decoded into a
float32 scratch buffer that stays in cache, reduced with the float kernels, and scaled
results are encoded back with round-to-nearest-even. One memory read (and one write for
in-place work) per element, as for float32."""

from __future__ import annotations

import numpy as np

from .._jit import njit
from ._halfbits import FP16, decode, encode, fast_bf16, fast_f16
from ._reductions import partial
from ._segments import segment_view
from .config import CHUNK

_NORM, _SCALE, _CLAMP, _FILL = 0, 1, 2, 3


@njit(cache=True)
def _decode_into(y, kind, buf):
    n = y.size
    if kind == FP16:
        for i in range(n):
            buf[i] = decode(y[i], FP16)
    else:
        for i in range(n):
            buf[i] = decode(y[i], 2)
    return buf[:n]


_BLOCK = 256  # flagged values are re-encoded exactly, per block (float16: ~3% of blocks)


@njit(cache=True)
def _scale(y, c, kind, buf):
    """``y *= c`` with the product in float64 rounded once (RNE): a vectorised pass through
    float32 per block of ``_BLOCK`` values, then, in the rare blocks where that pass flagged a
    value, an exact re-encode of the flagged values."""
    x = _decode_into(y, kind, buf)
    n = y.size
    for lo in range(0, n, _BLOCK):
        hi = min(lo + _BLOCK, n)
        bad = False
        if kind == FP16:
            for i in range(lo, hi):
                h, tie = fast_f16(np.float64(x[i]) * c)
                y[i] = h
                bad |= tie
        else:
            for i in range(lo, hi):
                h, tie = fast_bf16(np.float64(x[i]) * c)
                y[i] = h
                bad |= tie
        if bad:  # re-encode exactly the values flagged
            for i in range(lo, hi):
                v = np.float64(x[i]) * c
                if fast_f16(v)[1] if kind == FP16 else fast_bf16(v)[1]:
                    y[i] = encode(v, kind)


@njit(cache=True)
def _clamp(y, c, kind, buf):
    """Clamp to [-c, c] (c already a value of the dtype); NaN kept; count of changes."""
    x = _decode_into(y, kind, buf)
    hi = encode(c, kind)
    lo = encode(-c, kind)
    n = 0
    for i in range(y.size):
        v = x[i]
        if v > c:
            y[i] = hi
            n += 1
        elif v < -c:
            y[i] = lo
            n += 1
    return n


@njit(cache=True, nogil=True)
def run_items_lowp(op, addrs, sizes, seg, start, stop, arg, coefs, proto, out, scales, kind,
                   lo, hi):
    """Work items lo..hi-1 over 16-bit arrays (``kind``: 1 float16, 2 bfloat16)."""
    buf = np.empty(CHUNK, np.float32)
    fill = encode(arg, kind)
    for k in range(lo, hi):
        s = seg[k]
        y = segment_view(addrs[s], sizes[s], proto)[start[k] : stop[k]]
        if op == _NORM:
            partial(_decode_into(y, kind, buf), arg, out, scales, k)
        elif op == _SCALE:
            if coefs[s] != 1.0:
                _scale(y, coefs[s], kind, buf)
        elif op == _CLAMP:
            out[k] = _clamp(y, arg, kind, buf)
        else:
            y[:] = fill


@njit(cache=True, nogil=True)
def col_sum_lowp(x, out, kind, block, lo_block, hi_block):
    """``out[j] = sum_i x[i, j]`` of 16-bit bits ``x``, float64 accumulation, RNE result."""
    rows, cols = x.shape
    for b in range(lo_block, hi_block):
        lo = b * block
        hi = min(lo + block, cols)
        acc = np.zeros(hi - lo, np.float64)
        for i in range(rows):
            for j in range(lo, hi):
                acc[j - lo] += decode(x[i, j], kind)
        for j in range(lo, hi):
            out[j] = encode(acc[j - lo], kind)
