"""float16 / bfloat16 <-> float32/64 inside Numba kernels, from the 16-bit patterns (Numba has
no float16 arithmetic on the CPU). Same rounding rules as ``halfbits`` (the numpy oracle):
decoding is exact; encoding a float64 rounds to odd into float32, then to nearest-even on the
bits. Branch-free enough to vectorise; no fastmath (the subnormal path relies on IEEE adds)."""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .._jit import njit

FP16, BF16 = 1, 2  # kinds of 16-bit arrays (both travel as uint16)
_2P112 = np.float32(2.0**112)
_HALF = np.float32(0.5)


@intrinsic
def u32_as_f32(typingctx, x):
    """Reinterpret uint32 bits as float32."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.uint32), codegen


@intrinsic
def f32_as_u32(typingctx, x):
    """Reinterpret float32 bits as uint32."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.uint32(types.float32), codegen


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
def _f32_odd_bits(v):
    """float64 -> float32 bits rounded to odd (no double rounding in the next step)."""
    r = np.float32(v)
    u = np.int64(f32_as_u32(r))
    back = np.float64(r)
    if back != v and (u & 1) == 0 and v == v:
        u = u - 1 if abs(back) > abs(v) else u + 1
    return u


@njit(inline="always")
def encode_f16(v):
    u = _f32_odd_bits(v)
    sign = u & 0x80000000
    u = u ^ sign
    if u >= 0x47800000:  # >= 65536 (or inf/NaN)
        o = 0x7E00 if u > 0x7F800000 else 0x7C00
    elif u < 0x38800000:  # below 2**-14: float16 subnormal, rounded by an IEEE add
        o = np.int64(f32_as_u32(u32_as_f32(np.uint32(u)) + _HALF)) - 0x3F000000
    else:
        o = (u + 0xC8000FFF + ((u >> 13) & 1)) >> 13
    return np.uint16((o | (sign >> 16)) & 0xFFFF)


@njit(inline="always")
def encode_bf16(v):
    u = _f32_odd_bits(v)
    if (u & 0x7FFFFFFF) > 0x7F800000:
        return np.uint16(((u >> 16) | 0x40) & 0xFFFF)
    return np.uint16(((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF)


@njit(inline="always")
def encode(v, kind):
    return encode_f16(v) if kind == FP16 else encode_bf16(v)
