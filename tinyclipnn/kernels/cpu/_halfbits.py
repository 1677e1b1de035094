"""float16 / bfloat16 <-> float32/64 inside Numba kernels, from the 16-bit patterns (Numba has
no float16 arithmetic on the CPU). Same rounding rules as ``halfbits`` (the numpy oracle):
decoding is exact; encoding a float64 rounds to nearest-even exactly (see ``encode_f16``).
Branch-free (selects) so the loops vectorise; no fastmath."""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .._jit import njit

FP16, BF16 = 1, 2  # kinds of 16-bit arrays (both travel as uint16)
_2P112 = np.float32(2.0**112)


def _bitcast(src: types.Type, dst: types.Type, llvm_type: ir.Type, doc: str):
    """An intrinsic reinterpreting the bits of a ``src`` value as ``dst``."""
    def cast(typingctx, x):
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], llvm_type)

        return dst(src), codegen

    cast.__doc__ = doc
    return intrinsic(cast)


u32_as_f32 = _bitcast(types.uint32, types.float32, ir.FloatType(), "uint32 bits as float32")
f32_as_u32 = _bitcast(types.float32, types.uint32, ir.IntType(32), "float32 bits as uint32")
f64_as_i64 = _bitcast(types.float64, types.int64, ir.IntType(64), "float64 bits as int64")


@njit(inline="always")
def f16_to_f32(h):
    u = np.uint32(h)
    em = np.uint32(u & 0x7FFF)
    f = u32_as_f32(np.uint32(em << 13)) * _2P112  # normals and subnormals alike
    if em >= 0x7C00:
        f = u32_as_f32(np.uint32((em << 13) | 0x7F800000))
    return u32_as_f32(np.uint32(f32_as_u32(f) | ((u & 0x8000) << 16)))


@njit(inline="always")
def bf16_to_f32(h):
    return u32_as_f32(np.uint32(np.uint32(h) << 16))


@njit(inline="always")
def decode(h, kind):
    return f16_to_f32(h) if kind == FP16 else bf16_to_f32(h)


@njit(inline="always")
def _round_bits(v, mant_bits, min_exp, nan_bits, inf_bits):
    """float64 -> a binary16-style format (``mant_bits`` stored mantissa bits, smallest normal
    2**(min_exp - 1023)), round-to-nearest-even in integer arithmetic on the float64 bits: one
    rounding, subnormals and overflow included, no branches (the loops vectorise)."""
    b = f64_as_i64(v)
    sign = (b >> 48) & 0x8000
    t = b & 0x7FFFFFFFFFFFFFFF
    e = t >> 52
    m = (t & 0xFFFFFFFFFFFFF) | (np.int64(e > 0) << 52)  # with the implicit bit
    lack = min_exp - e
    s = 52 - mant_bits + (lack if lack > 0 else 0)  # bits to drop (more for subnormals)
    s = s if s < 63 else 63
    q = (m + ((np.int64(1) << (s - 1)) - 1) + ((m >> s) & 1)) >> s
    out = q + ((-lack if lack < 0 else 0) << mant_bits)  # exponent field; carries roll over
    out = out if out < inf_bits else inf_bits
    out = nan_bits if (e == 2047) & (t != (np.int64(2047) << 52)) else out
    return np.uint16((out | sign) & 0xFFFF)


@njit(inline="always")
def encode_f16(v):
    """float64 -> float16 bits, round-to-nearest-even."""
    return _round_bits(v, 10, 1009, 0x7E00, 0x7C00)


@njit(inline="always")
def encode_bf16(v):
    """float64 -> bfloat16 bits, round-to-nearest-even."""
    return _round_bits(v, 7, 897, 0x7FC0, 0x7F80)


_TWO28 = 2.0**28  # a + 2**28 rounds a < 2**-14 to a multiple of 2**-24 (float16 subnormals)


@njit(inline="always")
def fast_f16(v):
    """(float16 bits of ``v``, needs ``encode_f16``): RNE through float32, exact except when the
    float32 value sits on a float16 midpoint (flagged; about 1 value in 8,192). Vectorises."""
    a = abs(v)
    r = np.float32(v)
    u = np.int64(f32_as_u32(r))
    m = u & 0x7FFFFFFF
    norm = (m - (112 << 23) + 0xFFF + ((m >> 13) & 1)) >> 13
    sub = f64_as_i64(a + _TWO28) - f64_as_i64(_TWO28)
    big = np.int64(0x7E00) if v != v else np.int64(0x7C00)
    small = a < 6.103515625e-05
    o = sub if small else (big if (a >= 65520.0) | (v != v) else norm)
    tie = ((m & 0x1FFF) == 0x1000) & ~small
    return np.uint16((o | ((u >> 16) & 0x8000)) & 0xFFFF), tie


@njit(inline="always")
def fast_bf16(v):
    """(bfloat16 bits of ``v``, needs ``encode_bf16``): as ``fast_f16`` (1 value in 65,536)."""
    u = np.int64(f32_as_u32(np.float32(v)))
    rne = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    o = ((u >> 16) | 0x40) if v != v else rne
    return np.uint16(o & 0xFFFF), (u & 0xFFFF) == 0x8000


@njit(inline="always")
def encode(v, kind):
    return encode_f16(v) if kind == FP16 else encode_bf16(v)
