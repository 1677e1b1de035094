"""float16 / bfloat16 <-> float32/64 inside Numba kernels, from the 16-bit patterns (Numba has
no float16 arithmetic on the CPU). Same rounding rules as ``halfbits_numpy`` (the oracle):
decoding is exact; encoding a float64 rounds to nearest-even exactly (see ``encode_f16``).
Branch-free (selects) so the loops vectorise; no fastmath."""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .._jit import njit

FP16, BF16 = 1, 2  # kinds of 16-bit arrays (both travel as uint16)
U32 = np.uint32  # numba widens uint32 arithmetic to 64 bits: cast back to keep 8-wide lanes
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


@njit(inline="always")
def f32_odd_bits(v):
    """float64 -> float32 rounded to odd, as uint32 bits (``halfbits_numpy.f64_to_f32_odd``):
    truncate toward zero, then set the last bit when inexact. Rounding that to a format with
    >= 2 fewer bits (float16, bfloat16; subnormals and overflow included) is one exact RNE
    of ``v``. Branch-free (selects): vectorises."""
    r = np.float32(v)
    back = np.float64(r)
    down = U32(abs(back) > abs(v))  # RNE went away from zero
    sticky = U32((back != v) & (v == v))
    return U32(U32(f32_as_u32(r) - down) | sticky)


@njit(inline="always")
def bf16_from_odd(u):
    """bfloat16 bits of float32 bits ``u`` (rounded to odd from float64), RNE; NaN quiet."""
    rne = U32(U32(u + U32(0x7FFF) + U32(U32(u >> U32(16)) & U32(1))) >> U32(16))
    nan = U32(u & U32(0x7FFFFFFF)) > U32(0x7F800000)
    return np.uint16(U32(U32(u >> U32(16)) | U32(0x40)) if nan else rne)


_HALF = np.float32(0.5)  # a + 0.5 in float32 rounds a < 2**-14 to a multiple of 2**-24


@njit(inline="always")
def f16_from_odd(u):
    """float16 bits of float32 bits ``u`` (rounded to odd from float64), RNE in integer
    arithmetic (CPUs without F16C); subnormals by one float32 addition; NaN payload kept."""
    m = U32(u & U32(0x7FFFFFFF))
    norm = U32(U32(m - U32(112 << 23) + U32(0xFFF) + U32(U32(m >> U32(13)) & U32(1))) >> U32(13))
    norm = norm if norm < U32(0x7C00) else U32(0x7C00)
    sub = U32(f32_as_u32(u32_as_f32(m) + _HALF) - f32_as_u32(_HALF))
    o = sub if m < U32(0x38800000) else norm
    nan = U32(U32(0x7E00) | U32(U32(m & U32(0x7FFFFF)) >> U32(13)))  # as vcvtps2ph
    o = nan if m > U32(0x7F800000) else o
    return np.uint16(U32(o | U32(U32(u >> U32(16)) & U32(0x8000))))


@njit(inline="always")
def from_odd(u, kind):
    return f16_from_odd(u) if kind == FP16 else bf16_from_odd(u)


# float32 fast path of ``x * c`` (x a 16-bit value, c a float64 with FAST_C_MIN <= |c| <=
# FAST_C_MAX): s = x * float32(c) is a float32 normal (or 0, inf, NaN where v is too) and
# within |v| * (2**-23 + 2**-48) of the float64 product v = fl64(x * c) (two roundings of
# 2**-24, then 2**-53), i.e. < 2 float32 ulps of s: a 16-bit midpoint lies >= 4000 ulps from
# the binade's ends, so |v| < 2 * 2**e there. Round-to-nearest-even is monotone: s and v round
# to the same 16-bit value unless a midpoint lies within 2 ulps of s (both are on the float32
# grid: a distance >= 2 ulps exceeds the error). ``near_midpoint`` flags distances <= NEAR = 2
# (1 ulp to spare).
FAST_C_MIN, FAST_C_MAX = 2.0**-100, 2.0**100
NEAR = 2
_F16_MIN_NORMAL = np.float32(2.0**-14)


@njit(inline="always")
def near_midpoint(u, drop):
    """1 when float32 bits ``u`` lie within ``NEAR`` ulps of a pattern whose low ``drop``
    bits are ``1 << (drop - 1)`` (a midpoint once ``drop`` bits are rounded off), else 0; as
    uint32 for 8-wide OR-accumulation."""
    mask = U32((1 << drop) - 1)
    return U32(U32(U32(u + U32((1 << (drop - 1)) + NEAR)) & mask) <= U32(2 * NEAR))


@njit(inline="always")
def f16_near_midpoint(s):
    """``near_midpoint`` for rounding float32 ``s`` to float16: normal results drop 13 bits;
    for |s| < 2**-14 (float16 subnormals, spaced 2**-24) f = |s| + 2**-14 puts the subnormal
    grid on f's low 13 bits (ulp 2**-37: the error of s, < 2 ulps of s <= 2**-38, is < 1 ulp
    of f, and the addition's rounding is monotone and adds <= 0.5 ulp: < NEAR)."""
    a = U32(f32_as_u32(s) & U32(0x7FFFFFFF))
    f = f32_as_u32(u32_as_f32(a) + _F16_MIN_NORMAL)
    return near_midpoint(a if a >= U32(0x38800000) else f, 13)


@njit(inline="always")
def encode(v, kind):
    return encode_f16(v) if kind == FP16 else encode_bf16(v)
