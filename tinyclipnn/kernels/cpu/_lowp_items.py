"""Work items for float16 / bfloat16 arrays (as uint16 bits): each chunk is decoded into a
float32 scratch buffer that stays in cache, reduced with the float kernels, and scaled
results are encoded back with round-to-nearest-even. One memory read (and one write for
in-place work) per element, as for float32."""

from __future__ import annotations

import numpy as np

from .._jit import njit
from ..config import HALF_SCALE_BLOCK, NORM_BLOCK, TINY
from ._claims import claimed_items
from ._float_items import CLAMP, NORM, SCALE
from ._reductions import _FM, partial
from ._segments import item_view
from .halfbits_numba import (
    FAST_C_MAX,
    FAST_C_MIN,
    FP16,
    U32,
    bf16_to_f32,
    decode,
    encode,
    f32_as_u32,
    f32_odd_bits,
    from_odd,
    near_midpoint,
    u32_as_f32,
)


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


@njit(cache=True, fastmath=_FM)
def _sum_sq(y, kind):
    """sum of squares of 16-bit values in float64, decoded on the fly (one fused loop).
    bfloat16 reads pairs as one uint32 word w: the values are w << 16 and w & 0xFFFF0000 (two
    ops per 8 + 8 values, a fifth fewer cycles than zero-extending each value)."""
    s = 0.0
    if kind == FP16:
        for i in range(y.size):
            v = np.float64(decode(y[i], FP16))
            s += v * v
        return s
    pairs = y[: y.size - y.size % 2].view(np.uint32)
    for i in range(pairs.size):
        lo = np.float64(u32_as_f32(U32(pairs[i] << U32(16))))
        hi = np.float64(u32_as_f32(U32(pairs[i] & U32(0xFFFF0000))))
        s += lo * lo + hi * hi
    for i in range(2 * pairs.size, y.size):
        v = np.float64(bf16_to_f32(y[i]))
        s += v * v
    return s


@njit(inline="always")
def settled(s, out, scales, k):
    """Store a chunk's fused float64 sum of squares as its partial (as ``partial`` would)
    unless it over/underflowed; False then (``partial`` recomputes it, scaled)."""
    if s != s or TINY < s < np.inf:
        out[k] = s
        scales[k] = 0.0
        return True
    return False


@njit(inline="always")
def _exact(h, c, kind):
    """16-bit value ``h`` times ``c`` with the product in float64 rounded once (RNE): round
    to odd to float32, then RNE on the bits (exact, see ``f32_odd_bits``)."""
    return from_odd(f32_odd_bits(np.float64(decode(h, kind)) * c), kind)


@njit(cache=True)
def scale_exact(y, c, kind):
    """``y *= c`` exactly (``_exact``), one fused, vectorised pass per kind (in place: a
    separate source and destination that alias would make LLVM fall back to scalar code)."""
    if kind == FP16:
        for i in range(y.size):
            y[i] = _exact(y[i], c, FP16)
    else:
        for i in range(y.size):
            y[i] = _exact(y[i], c, 2)


@njit(cache=True)
def _scale_bf16(y, c, tmp):
    """bfloat16 ``y *= c`` as ``scale_exact``, per block of ``HALF_SCALE_BLOCK``, in 8-wide float32/int32
    vectors: s = x * float32(c) rounded to nearest-even on its bits is written in place
    (originals kept in ``tmp``). s is within 2 float32 ulps of the float64 product (see
    ``FAST_C_MIN``; 1 ulp when s is a float32 subnormal, whose grid is the bfloat16
    subnormal grid too; s = 0 or inf only where the product rounds to 0 or inf as well), so
    both round alike unless s is within ``NEAR`` ulps of a bfloat16 midpoint; NaN stays NaN,
    quiet. A block with such a value (rare) is redone exactly from ``tmp``; the last partial
    block is done exactly. One loop (decode and multiply once; ``tmp``: ``HALF_SCALE_BLOCK`` scratch
    values) costs ~0.21 ns per value against ~0.29 for a check loop then a scaling loop."""
    if not FAST_C_MIN <= abs(c) <= FAST_C_MAX:
        scale_exact(y, c, 2)
        return
    c32 = np.float32(c)
    full = y.size - y.size % HALF_SCALE_BLOCK
    for lo in range(0, full, HALF_SCALE_BLOCK):
        near = U32(0)  # a 32-bit OR (each op cast back: numba widens to 64 bits) vectorises
        for i in range(HALF_SCALE_BLOCK):  # constant length: unrolled, no remainder loop
            h = y[lo + i]
            tmp[i] = h
            u = f32_as_u32(bf16_to_f32(h) * c32)
            near = U32(near | near_midpoint(u, 16))
            y[lo + i] = np.uint16(U32(u + U32(0x7FFF) + U32(U32(u >> U32(16)) & U32(1))) >> U32(16))
        if near:
            for i in range(HALF_SCALE_BLOCK):
                y[lo + i] = _exact(tmp[i], c, 2)
    scale_exact(y[full:], c, 2)


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
                   claims):
    """``_float_items.run_items`` over 16-bit arrays (``kind``: 1 float16, 2 bfloat16): the
    work items this thread claims; returns how many it did."""
    buf = np.empty(NORM_BLOCK, np.float32)
    tmp = np.empty(HALF_SCALE_BLOCK, np.uint16)
    fill = encode(arg, kind)
    done = 0
    for k in claimed_items(claims, seg.shape[0]):
        s = seg[k]
        y = item_view(addrs, sizes, seg, start, stop, proto, k)
        if op == NORM:
            if arg != 2.0 or not settled(_sum_sq(y, kind), out, scales, k):
                partial(_decode_into(y, kind, buf), arg, out, scales, k)
        elif op == SCALE:
            if coefs[s] == 1.0:
                pass
            elif kind == FP16:
                scale_exact(y, coefs[s], FP16)
            else:
                _scale_bf16(y, coefs[s], tmp)
        elif op == CLAMP:
            out[k] = _clamp(y, arg, kind, buf)
        else:
            y[:] = fill
        done += 1
    return done


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
