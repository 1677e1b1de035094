"""Work items for float16 / bfloat16 arrays (as uint16 bits): each chunk is decoded into a
float32 scratch buffer that stays in cache, reduced with the float kernels, and scaled
results are encoded back with round-to-nearest-even. One memory read (and one write for
in-place work) per element, as for float32."""

from __future__ import annotations

import numpy as np

from .._jit import njit
from ._halfbits import (
    ENCLOSE_HI,
    ENCLOSE_LO,
    ENCLOSE_MAX,
    ENCLOSE_MIN,
    F32_TINY,
    FP16,
    bf16_from_odd,
    bf16_rne,
    bf16_to_f32,
    decode,
    encode,
    f16_from_odd,
    f32_odd_bits,
)
from ._reductions import partial
from ._segments import segment_view
from .config import BLOCK, CHUNK

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


@njit(cache=True)
def scale_exact(y, c, kind):
    """``y *= c`` with the product in float64 rounded once (RNE): round to odd to float32,
    then RNE on the bits (exact, see ``f32_odd_bits``); one fused, vectorised pass."""
    if kind == FP16:
        for i in range(y.size):
            y[i] = f16_from_odd(f32_odd_bits(np.float64(decode(y[i], FP16)) * c))
    else:
        for i in range(y.size):
            y[i] = bf16_from_odd(f32_odd_bits(np.float64(decode(y[i], 2)) * c))


@njit(cache=True)
def _scale_bf16(y, c, tmp):
    """bfloat16 ``y *= c`` as ``scale_exact``, per block of ``BLOCK``: the float32 enclosure
    (``ENCLOSE_LO``) in 8-wide float32/int32 vectors; a block where some value is not
    settled by it (about 1 value in 4,000; NaN, float32-subnormal) is redone exactly."""
    if not ENCLOSE_MIN <= abs(c) <= ENCLOSE_MAX:
        scale_exact(y, c, 2)
        return
    c32 = np.float32(c)
    for lo in range(0, y.size, BLOCK):
        x = y[lo : lo + BLOCK]
        bad = 0  # an integer OR: a boolean one keeps the loop from vectorising
        for i in range(x.size):
            h = x[i]
            s = bf16_to_f32(h) * c32
            ha = bf16_rne(s * ENCLOSE_LO)
            odd = (s != s) | (abs(s) < F32_TINY) & (h != 0)
            bad |= (ha ^ bf16_rne(s * ENCLOSE_HI)) | np.uint16(odd)
            tmp[i] = ha
        if bad:
            scale_exact(x, c, 2)
        else:
            for i in range(x.size):
                x[i] = tmp[i]


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
    tmp = np.empty(BLOCK, np.uint16)
    fill = encode(arg, kind)
    for k in range(lo, hi):
        s = seg[k]
        y = segment_view(addrs[s], sizes[s], proto)[start[k] : stop[k]]
        if op == _NORM:
            partial(_decode_into(y, kind, buf), arg, out, scales, k)
        elif op == _SCALE:
            if coefs[s] == 1.0:
                pass
            elif kind == FP16:
                scale_exact(y, coefs[s], FP16)
            else:
                _scale_bf16(y, coefs[s], tmp)
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
