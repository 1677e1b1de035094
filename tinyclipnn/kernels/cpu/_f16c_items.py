"""float16 work items on CPUs with the F16C instructions (every AVX2 CPU): decoding and
rounding to float16 in hardware (``vcvtph2ps`` / ``vcvtps2ph``, 8 values per instruction)
instead of bit arithmetic. Used only when the host has F16C (``HAVE_F16C``): elsewhere LLVM
would need a library call that Numba does not link.

Scaling keeps the exact semantics of the other paths (float64 product, rounded once to
nearest-even): the float64 product goes to float32 and then to float16 in hardware, which is a
double rounding only when the float32 value sits exactly on a float16 midpoint; ``_round``
detects that case and steps to the right neighbour, all in vector selects.
"""

from __future__ import annotations

import numpy as np
from llvmlite import binding, ir
from numba import types
from numba.extending import intrinsic

from .._jit import njit
from ._halfbits import FP16, encode
from ._lowp_items import _clamp
from ._reductions import partial
from ._segments import segment_view
from .config import CHUNK

HAVE_F16C = "+f16c" in binding.get_host_cpu_features().flatten().split(",")
_NORM, _SCALE, _CLAMP = 0, 1, 2


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


@njit(inline="always")
def _round(v):
    """float64 -> float16 bits, round-to-nearest-even, without branches: float32 then float16
    in hardware; when the float32 value is exactly a float16 midpoint and not ``v`` itself (the
    one case where rounding twice differs from rounding once), step to the neighbour on
    ``v``'s side. (Any other float32 value lies on the same side of every midpoint as ``v``.)"""
    p = np.float32(v)
    h = _to_half_bits(p)
    ap = abs(p)
    below = abs(_from_half_bits(h)) < ap
    lo = h - np.uint16(0 if below else 1)  # the neighbours: lo, lo + 1 (magnitude bits)
    m_lo = abs(_from_half_bits(lo))
    m_hi = min(abs(_from_half_bits(np.uint16(lo + 1))), np.float32(65536.0))
    fix = (ap == (m_lo + m_hi) * np.float32(0.5)) & (abs(v) != ap)
    return np.uint16(lo + (1 if abs(v) > ap else 0)) if fix else h


@njit(cache=True)
def _scale(y, c, buf):
    x = _decode(y, buf)
    for i in range(y.size):
        y[i] = _round(np.float64(x[i]) * c)


@njit(cache=True, nogil=True)
def run_items_f16c(op, addrs, sizes, seg, start, stop, arg, coefs, proto, out, scales, kind,
                   lo, hi):
    """``run_items_lowp`` for float16 (``kind`` 1) with the hardware conversions."""
    buf = np.empty(CHUNK, np.float32)
    fill = encode(arg, FP16)
    for k in range(lo, hi):
        s = seg[k]
        y = segment_view(addrs[s], sizes[s], proto)[start[k] : stop[k]]
        if op == _NORM:
            partial(_decode(y, buf), arg, out, scales, k)
        elif op == _SCALE:
            if coefs[s] != 1.0:
                _scale(y, coefs[s], buf)
        elif op == _CLAMP:
            out[k] = _clamp(y, arg, FP16, buf)
        else:
            y[:] = fill
