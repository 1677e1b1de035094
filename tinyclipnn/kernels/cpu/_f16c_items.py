"""float16 work items on CPUs with the F16C instructions (every AVX2 CPU): decoding and
rounding to float16 in hardware (``vcvtph2ps`` / ``vcvtps2ph``, 8 values per instruction)
instead of bit arithmetic. Used only when Numba compiles for a CPU with F16C (``HAVE_F16C``: the
host's features, or ``NUMBA_CPU_FEATURES`` when set): elsewhere LLVM
would need a library call that Numba does not link.

Scaling keeps the exact semantics of the other paths (float64 product, rounded once to
nearest-even). Fast path: the float32 product rounded by one ``vcvtps2ph``, exact unless it is
near a float16 midpoint (``f16_near_midpoint``); exact path: the float64 product rounded to
odd to float32 (``f32_odd_bits``: no double-rounding error since float32 keeps >= 2 more
bits), then ``vcvtps2ph``.
"""

from __future__ import annotations

import numpy as np
from llvmlite import binding, ir
from numba import types
from numba.extending import intrinsic

from .._jit import njit
from ..config import HALF_SCALE_BLOCK, NORM_BLOCK
from ._claims import claimed_items
from ._float_items import CLAMP, NORM, SCALE
from ._lowp_items import _clamp, settled
from ._reductions import _FM, partial
from ._segments import item_view
from .halfbits_numba import (
    FAST_C_MAX,
    FAST_C_MIN,
    FP16,
    U32,
    encode,
    f16_near_midpoint,
    f32_odd_bits,
    u32_as_f32,
)


def _target_features() -> str:
    """The CPU features Numba compiles for: ``NUMBA_CPU_FEATURES`` when set (Numba sets it to ""
    for ``NUMBA_CPU_NAME=generic``, the portable-cache setting), else the host's."""
    from numba.core import config

    if config.CPU_FEATURES is not None:
        return config.CPU_FEATURES
    return binding.get_host_cpu_features().flatten()


HAVE_F16C = "+f16c" in _target_features().split(",")


@intrinsic
def _to_half_bits(typingctx, x):
    """float32 -> float16 bits, round-to-nearest-even (``vcvtps2ph``)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(builder.fptrunc(args[0], ir.HalfType()), ir.IntType(16))

    return types.uint16(types.float32), codegen


@intrinsic
def _from_half_bits(typingctx, x):
    """float16 bits -> float32 (``vcvtph2ps``, exact)."""
    def codegen(context, builder, signature, args):
        return builder.fpext(builder.bitcast(args[0], ir.HalfType()), ir.FloatType())

    return types.float32(types.uint16), codegen


@njit(cache=True)
def _decode(y, buf):
    for i in range(y.size):
        buf[i] = _from_half_bits(y[i])
    return buf[: y.size]


@njit(cache=True, fastmath=_FM)
def _sum_sq(y):
    """sum of squares in float64, decoded on the fly (one fused loop)."""
    s = 0.0
    for i in range(y.size):
        v = np.float64(_from_half_bits(y[i]))
        s += v * v
    return s


@njit(inline="always")
def _exact(h, c):
    """float16 bits ``h`` times ``c`` exactly: float64 product rounded to odd to float32
    (``f32_odd_bits``), then ``vcvtps2ph``."""
    return _to_half_bits(u32_as_f32(f32_odd_bits(np.float64(_from_half_bits(h)) * c)))


@njit(cache=True)
def _scale_exact(y, c):
    """``y *= c`` exactly (``_exact``), one vectorised pass (in place: a separate source
    and destination that alias would make LLVM fall back to scalar code)."""
    for i in range(y.size):
        y[i] = _exact(y[i], c)


@njit(cache=True)
def _scale(y, c, tmp):
    """``y *= c``, the float64 product rounded once (RNE), per block of ``HALF_SCALE_BLOCK`` (``tmp``:
    ``HALF_SCALE_BLOCK`` scratch values). The float32 product s rounded by one ``vcvtps2ph`` is written
    in place, originals kept in ``tmp``; it is the exact result unless s is within ``NEAR``
    ulps of a float16 midpoint (``f16_near_midpoint``, an integer test on the bits of s; about
    1 value in 1,400, 4% of blocks), and such a block is redone exactly from ``tmp``. One
    hardware rounding plus the integer test costs ~0.24 ns per value against ~0.29 for the
    former two roundings of an enclosing interval. Whole blocks run a loop of constant length
    (unrolled, no remainder loop); the last partial block is done exactly."""
    if not FAST_C_MIN <= abs(c) <= FAST_C_MAX:
        _scale_exact(y, c)
        return
    c32 = np.float32(c)
    full = y.size - y.size % HALF_SCALE_BLOCK
    for lo in range(0, full, HALF_SCALE_BLOCK):
        near = U32(0)  # a 32-bit OR (cast back each time: numba widens) vectorises
        for i in range(HALF_SCALE_BLOCK):
            h = y[lo + i]
            tmp[i] = h
            s = _from_half_bits(h) * c32
            near = U32(near | f16_near_midpoint(s))
            y[lo + i] = _to_half_bits(s)
        if near:
            for i in range(HALF_SCALE_BLOCK):
                y[lo + i] = _exact(tmp[i], c)
    _scale_exact(y[full:], c)


@njit(cache=True, nogil=True)
def run_items_f16c(op, addrs, sizes, seg, start, stop, arg, coefs, proto, out, scales, kind,
                   claims):
    """``run_items_lowp`` for float16 (``kind`` 1) with the hardware conversions."""
    buf = np.empty(NORM_BLOCK, np.float32)
    tmp = np.empty(HALF_SCALE_BLOCK, np.uint16)
    fill = encode(arg, FP16)
    done = 0
    for k in claimed_items(claims, seg.shape[0]):
        s = seg[k]
        y = item_view(addrs, sizes, seg, start, stop, proto, k)
        if op == NORM:
            if arg != 2.0 or not settled(_sum_sq(y), out, scales, k):
                partial(_decode(y, buf), arg, out, scales, k)
        elif op == SCALE:
            if coefs[s] != 1.0:
                _scale(y, coefs[s], tmp)
        elif op == CLAMP:
            out[k] = _clamp(y, arg, FP16, buf)
        else:
            y[:] = fill
        done += 1
    return done
