"""Numba kernels behind `rnn.py`: one recurrent layer and direction, time loop forward and BPTT.

Every ``@njit`` function of the recurrent stack lives in this one file, so Numba's on-disk cache
(keyed on this file) is invalidated whenever any of them changes. Arrays are C-contiguous and of
one float dtype (float32 or float64); each kernel is compiled once per dtype on first use.

Speed: each step does one BLAS matmul (``h @ W_hh.T`` forward, ``dgates @ W_hh`` backward), a
direct call of numpy's ``cblas_?gemm`` (`_gemm`; address from `_cblas`) that accumulates into the
projections / state gradient, and element-wise loops that LLVM vectorises (one view per gate).
Two things make the vectorisation happen: ``error_model="numpy"`` (Python's error model puts a
ZeroDivisionError branch in every division, which blocks vectorisation of sigmoid / tanh), and ``fexp``, a
branch-free exp (Cephes range reduction, polynomial, ``2**k`` built from exponent bits by a bitcast
intrinsic) because calls to libm's ``exp`` do not vectorise. It is inlined into the gate loops, so
each gate is one pass (~0.35 ns per float32 element on AVX-512). float64 ``fexp`` is within 1 ulp
of ``np.exp``, float32 within 2 ulp; arguments are clamped so no inf appears (the result saturates
at ~1e-38 / 1e38, far below any effect on sigmoid or tanh). fastmath is limited to FMA contraction,
reciprocal division and no signed zeros: results stay within the tests' 1e-12 (float64) of the
numpy reference. All kernels are ``nogil`` (see `rnn._run` for threading).
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from .._jit import INNER, njit

_F = np.float32
# numpy's error model: float division by zero gives inf/nan instead of raising, so the division
# loops (sigmoid / tanh) carry no ZeroDivisionError branch and LLVM vectorises them (~4x faster).
# fastmath: FMA contraction, reciprocal for division, no signed zeros; never reassociation
# (the exp range reduction relies on exact rounding) and no nnan/ninf (values stay checked).
_JIT_OPTS = {"error_model": "numpy", "fastmath": {"contract", "arcp", "nsz", "afn"}}
_JIT = {"cache": True, "nogil": True, **_JIT_OPTS}
_INNER_JIT = {**_JIT, **INNER}  # helpers called only from the kernels


def fexp(x):  # pragma: no cover - replaced by the overload inside jitted code
    """exp(x) for a float32 / float64 scalar; inside a loop, LLVM vectorises it."""
    return math.exp(x)


@intrinsic
def _as_float(typingctx, bits):
    """Reinterpret int32 / int64 bits as float32 / float64."""
    ft = types.float32 if bits.bitwidth == 32 else types.float64

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], context.get_value_type(ft))

    return ft(bits), codegen


def _exp32(x):
    x = min(max(x, _F(-87.3)), _F(88.3))
    kf = (x * _F(1.44269504088896341) + _F(12582912.0)) - _F(12582912.0)  # round to integer
    r = x - kf * _F(0.693359375) - kf * _F(-2.12194440e-4)
    p = ((((_F(1.9875691500e-4) * r + _F(1.3981999507e-3)) * r + _F(8.3334519073e-3)) * r
          + _F(4.1665795894e-2)) * r + _F(1.6666665459e-1)) * r + _F(5.0000001201e-1)
    return (p * r * r + r + _F(1.0)) * _as_float(np.int32((np.int32(kf) + 127) << 23))


def _exp64(x):
    x = min(max(x, -708.0), 709.0)
    kf = (x * 1.4426950408889634 + 6755399441055744.0) - 6755399441055744.0
    r = x - kf * 6.93145751953125e-1 - kf * 1.42860682030941723212e-6
    p = 1.0 / 6227020800.0  # Taylor to r**13: error < 1e-17 on |r| <= ln2/2
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p * _as_float(np.int64((np.int64(kf) + 1023) << 52))


@overload(fexp, jit_options=_JIT_OPTS)
def _fexp_overload(x):
    return _exp32 if x == types.float32 else _exp64


@njit(**_INNER_JIT)
def _sig(x):
    one = type(x)(1)
    return one / (one + fexp(-x))


@njit(**_INNER_JIT)
def _tanh(x):
    one = type(x)(1)
    return (one + one) / (one + fexp(-(x + x))) - one


@njit(**_JIT)
def _act_rows(out, x, tanh):
    """out = tanh(x) or sigmoid(x) element-wise (1-D arrays; for tests)."""
    for j in range(x.shape[0]):
        out[j] = _tanh(x[j]) if tanh else _sig(x[j])


@njit(**_INNER_JIT)
def _row_norm(row):
    acc = 0.0
    for j in range(row.shape[0]):
        v = np.float64(row[j])
        acc += v * v
    return math.sqrt(acc)


@njit(**_INNER_JIT)
def _clip_row(row, clip_mode, clip_value):
    """Clip one example's state gradient in place: 1 = by value, 2 = by norm, 0 = not at all."""
    if clip_mode == 1:
        lo, hi = row.dtype.type(-clip_value), row.dtype.type(clip_value)
        for j in range(row.shape[0]):
            row[j] = min(max(row[j], lo), hi)
    elif clip_mode == 2:
        n = _row_norm(row)
        if n > clip_value:
            s = clip_value / n
            for j in range(row.shape[0]):
                row[j] = row[j] * s


@njit(**_INNER_JIT)
def _copy_row(dst, src):
    """dst[:] = src for 1-D arrays of one length, as a loop: Numba's slice assignment from an
    array compiles a shape-mismatch error message (its string formatting: ~1.5 s of a cold
    process's first recurrent step)."""
    for j in range(dst.shape[0]):
        dst[j] = src[j]


@njit(**_INNER_JIT)
def _take_dh(dh_row, dy_row, norms, t, b, record, clip_mode, clip_value):
    """dh += dy (gradient reaching h_t); record its norm; clip it."""
    for j in range(dh_row.shape[0]):
        dh_row[j] += dy_row[j]
    if record:
        norms[t, b] = _row_norm(dh_row)
    _clip_row(dh_row, clip_mode, clip_value)


# ----------------------------------------------------------------------------- per-step matmul
def _gemm_intrinsic(int_bits: int):
    """An intrinsic calling a row-major, no-transpose CBLAS ``?gemm`` through its address
    (``int_bits``: width of the BLAS integers, 64 for ILP64 builds)."""

    @intrinsic
    def call(typingctx, addr, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        sig = types.void(addr, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

        def codegen(context, builder, signature, args):
            i32, iN, p = ir.IntType(32), ir.IntType(int_bits), ir.IntType(8).as_pointer()
            fl = context.get_value_type(signature.args[4])
            fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, iN, iN, iN, fl, p, iN, p, iN,
                                                   fl, p, iN])
            as64 = [v if isinstance(t, types.Float) else context.cast(builder, v, t, types.int64)
                    for v, t in zip(args, signature.args, strict=True)]
            num = [v if int_bits == 64 or isinstance(t, types.Float) else builder.trunc(v, iN)
                   for v, t in zip(as64, signature.args, strict=True)]
            fn = builder.inttoptr(as64[0], fnty.as_pointer())
            builder.call(fn, [i32(101), i32(111), i32(111), num[1], num[2], num[3], args[4],
                              builder.inttoptr(as64[5], p), num[6], builder.inttoptr(as64[7], p),
                              num[8], args[9], builder.inttoptr(as64[10], p), num[11]])
            return context.get_dummy_value()

        return sig, codegen

    return call


_gemm64, _gemm32 = _gemm_intrinsic(64), _gemm_intrinsic(32)


def _dot_fallback(blas, a, b, c, beta):  # pragma: no cover - replaced inside jitted code
    """c = a @ b + beta * c by np.dot when ``blas`` is None; nothing otherwise."""


@overload(_dot_fallback, jit_options=_JIT_OPTS)
def _dot_fallback_overload(blas, a, b, c, beta):
    """Chosen by ``blas``'s type when compiling, so np.dot (~1.5 s of a cold process's first
    recurrent step, with the array allocation it brings) is compiled only where it can run."""
    if isinstance(blas, types.NoneType):
        def dot(blas, a, b, c, beta):
            if beta == 0:
                np.dot(a, b, c)
            else:
                c += np.dot(a, b)
        return dot
    return lambda blas, a, b, c, beta: None


@njit(**_INNER_JIT)
def _gemm(blas, a, b, c, beta):
    """c = a @ b + beta * c for C-contiguous 2-D a (m, k), b (k, n), c (m, n) (a row range of a
    C-contiguous array is one), by numpy's BLAS at address ``blas[0]`` (`_cblas.gemm_handle`);
    ``np.dot`` when ``blas`` is None (no address found). beta is 0 or 1."""
    m, k = a.shape
    n = b.shape[1]
    if m == 0:
        return
    if blas is None:
        _dot_fallback(blas, a, b, c, beta)
        return
    one, bt = c.dtype.type(1), c.dtype.type(beta)
    pa, pb, pc = a.ctypes.data, b.ctypes.data, c.ctypes.data
    if blas[1]:
        _gemm64(blas[0], m, n, k, one, pa, k, pb, n, bt, pc, n)
    else:
        _gemm32(blas[0], m, n, k, one, pa, k, pb, n, bt, pc, n)


# ----------------------------------------------------------------------------- RNN (tanh / relu / sigmoid)
# Each kernel runs the whole time loop for batch rows [b0, b1): rows of a batch never interact,
# so `rnn._run` splits the batch over threads (nogil) with no per-step synchronisation. Scratch
# arrays come from the caller: views of an array allocated inside a kernel made its element-wise
# loops 6x slower (GRU forward, 64 steps, batch 32, hidden 128: 6.0 ms against 1.0 ms).
# Forward: the step's matmul adds h_{t-1} @ W_hh.T into the input projections in place (beta 1);
# backward: it adds dpre_t @ W_hh into dh, whose active rows were zeroed once consumed (inactive
# rows have dpre = 0, so their gradient passes through unchanged).
# ``act``: 0 tanh, 1 relu, 2 sigmoid (`rnn_cells.ELMAN_ACTIVATIONS`); one loop per activation
# (vectorised). Every forward kernel starts with the arguments of `rnn._Recurrence`, every
# backward kernel with those of `rnn._Bptt`.
@njit(**_JIT)
def rnn_forward_rows(blas, xw, w_hh_t, b_hh, lengths, reverse, y, h, act, b0, b1):
    T, B, H = xw.shape
    zero = xw.dtype.type(0)
    for s in range(T):
        t = T - 1 - s if reverse else s
        _gemm(blas, h[b0:b1], w_hh_t, xw[t, b0:b1], 1)
        for b in range(b0, b1):
            if t >= lengths[b]:
                continue
            x, hr = xw[t, b], h[b]
            if act == 1:
                for j in range(H):
                    hr[j] = max(x[j] + b_hh[j], zero)
            elif act == 2:
                for j in range(H):
                    hr[j] = _sig(x[j] + b_hh[j])
            else:
                for j in range(H):
                    hr[j] = _tanh(x[j] + b_hh[j])
            _copy_row(y[t, b], hr)


@njit(**_JIT)
def rnn_backward_rows(blas, dy, w_hh, lengths, reverse, clip_mode, clip_value, record, dxw, dh,
                      norms, y, act, b0, b1):
    T, B, H = y.shape
    one, zero = dy.dtype.type(1), dy.dtype.type(0)
    for s in range(T):
        t = s if reverse else T - 1 - s
        for b in range(b0, b1):
            if t >= lengths[b]:
                dxw[t, b] = 0  # dxw comes uninitialised
                continue
            _take_dh(dh[b], dy[t, b], norms, t, b, record, clip_mode, clip_value)
            yr, d, g = y[t, b], dxw[t, b], dh[b]
            if act == 1:
                for j in range(H):
                    d[j] = g[j] if yr[j] > zero else zero
            elif act == 2:  # sigmoid' = y (1 - y)
                for j in range(H):
                    d[j] = g[j] * (yr[j] * (one - yr[j]))
            else:
                for j in range(H):
                    d[j] = g[j] * (one - yr[j] * yr[j])
            g[:] = zero
        _gemm(blas, dxw[t, b0:b1], w_hh, dh[b0:b1], 1)


# ----------------------------------------------------------------------------- LSTM
# c_all[t] (when saved) is the cell state after step t, carried through inactive steps, so the
# state before step t is c_all at the previous step in processing order, or c0.
@njit(**_JIT)
def lstm_forward_rows(blas, xw, w_hh_t, b_hh, lengths, reverse, y, h, c, c_all, b0, b1):
    T, B, G = xw.shape
    H = G // 4
    save = c_all.shape[0] > 0
    # one view per gate: LLVM vectorises a loop over separate views 2-7x better than one over
    # offsets into a single row (a[j], a[H + j], ...), whose overlap it cannot rule out
    bi, bf, bg, bo = b_hh[:H], b_hh[H : 2 * H], b_hh[2 * H : 3 * H], b_hh[3 * H :]
    for s in range(T):
        t = T - 1 - s if reverse else s
        _gemm(blas, h[b0:b1], w_hh_t, xw[t, b0:b1], 1)
        for b in range(b0, b1):
            if t < lengths[b]:
                a, cr, hr = xw[t, b], c[b], h[b]  # gates i, f, g, o overwrite the pre-activations
                ai, af, ag, ao = a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H :]
                for j in range(H):
                    i, f = _sig(ai[j] + bi[j]), _sig(af[j] + bf[j])
                    g, o = _tanh(ag[j] + bg[j]), _sig(ao[j] + bo[j])
                    ai[j], af[j], ag[j], ao[j] = i, f, g, o
                    cj = f * cr[j] + i * g
                    cr[j] = cj
                    hr[j] = o * _tanh(cj)
                _copy_row(y[t, b], hr)
            if save:
                _copy_row(c_all[t, b], c[b])


@njit(**_JIT)
def lstm_backward_rows(blas, dy, w_hh, lengths, reverse, clip_mode, clip_value, record, dxw, dh,
                       norms, gates, c_all, c0, dc, b0, b1):
    T, B, G = gates.shape
    H = G // 4
    one, zero = dy.dtype.type(1), dy.dtype.type(0)
    for s in range(T):
        t = s if reverse else T - 1 - s
        tp = t + 1 if reverse else t - 1  # the step before t in processing order
        for b in range(b0, b1):
            if t >= lengths[b]:
                dxw[t, b] = 0  # dxw comes uninitialised
                continue
            _take_dh(dh[b], dy[t, b], norms, t, b, record, clip_mode, clip_value)
            a, d, ct, gh, gc = gates[t, b], dxw[t, b], c_all[t, b], dh[b], dc[b]
            cp = c_all[tp, b] if 0 <= tp < T else c0[b]
            ai, af, ag, ao = a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H :]
            di, df, dg, do = d[:H], d[H : 2 * H], d[2 * H : 3 * H], d[3 * H :]
            for j in range(H):
                o, tc = ao[j], _tanh(ct[j])  # tanh(c_t) recomputed: bit-identical
                gc[j] += gh[j] * o * (one - tc * tc)
                do[j] = gh[j] * tc * o * (one - o)
                gh[j] = zero
            _clip_row(gc, clip_mode, clip_value)
            for j in range(H):
                i, f, g = ai[j], af[j], ag[j]
                di[j] = gc[j] * g * i * (one - i)
                df[j] = gc[j] * cp[j] * f * (one - f)
                dg[j] = gc[j] * i * (one - g * g)
                gc[j] = gc[j] * f
        _gemm(blas, dxw[t, b0:b1], w_hh, dh[b0:b1], 1)


# ----------------------------------------------------------------------------- GRU
@njit(**_JIT)
def gru_forward_rows(blas, xw, w_hh_t, b_hh, lengths, reverse, y, h, hn_all, hw, b0, b1):
    T, B, G = xw.shape
    H = G // 3
    one = xw.dtype.type(1)
    save = hn_all.shape[0] > 0
    br, bz, bn = b_hh[:H], b_hh[H : 2 * H], b_hh[2 * H :]  # views per gate: see lstm_forward_rows
    for s in range(T):
        t = T - 1 - s if reverse else s
        _gemm(blas, h[b0:b1], w_hh_t, hw[b0:b1], 0)
        for b in range(b0, b1):
            if t >= lengths[b]:
                continue
            a, hwr, hr = xw[t, b], hw[b], h[b]  # gates r, z, n overwrite the pre-activations
            ar, az, an = a[:H], a[H : 2 * H], a[2 * H :]
            hwr_r, hwr_z, hn = hwr[:H], hwr[H : 2 * H], hwr[2 * H :]
            for j in range(H):
                r, z = _sig(ar[j] + hwr_r[j] + br[j]), _sig(az[j] + hwr_z[j] + bz[j])
                hnj = hn[j] + bn[j]  # W_hn h + b_hn
                n = _tanh(an[j] + r * hnj)
                ar[j], az[j], an[j], hn[j] = r, z, n, hnj
                hr[j] = (one - z) * n + z * hr[j]
            if save:
                _copy_row(hn_all[t, b], hn)
            _copy_row(y[t, b], hr)


@njit(**_JIT)
def gru_backward_rows(blas, dy, w_hh, lengths, reverse, clip_mode, clip_value, record, dxw, dh,
                      norms, gates, hn_all, y, h0, dhw, b0, b1):
    T, B, G = gates.shape
    H = G // 3
    one = dy.dtype.type(1)
    for s in range(T):
        t = s if reverse else T - 1 - s
        tp = t + 1 if reverse else t - 1  # the step before t in processing order
        for b in range(b0, b1):
            if t >= lengths[b]:  # dxw comes uninitialised
                dhw[b], dxw[t, b] = 0, 0
                continue
            _take_dh(dh[b], dy[t, b], norms, t, b, record, clip_mode, clip_value)
            a, d, dw, gh = gates[t, b], dxw[t, b], dhw[b], dh[b]
            hn = hn_all[t, b]
            hp = y[tp, b] if 0 <= tp < lengths[b] else h0[b]  # h_{t-1}
            ar, az, an = a[:H], a[H : 2 * H], a[2 * H :]  # views per gate: see lstm_forward_rows
            dr_, dz_, dn_ = d[:H], d[H : 2 * H], d[2 * H :]
            wr, wz, wn = dw[:H], dw[H : 2 * H], dw[2 * H :]
            for j in range(H):
                r, z, n = ar[j], az[j], an[j]
                dn = gh[j] * (one - z) * (one - n * n)
                dr = dn * hn[j] * r * (one - r)
                dz = gh[j] * (hp[j] - n) * z * (one - z)
                dr_[j], dz_[j], dn_[j] = dr, dz, dn
                wr[j], wz[j], wn[j] = dr, dz, dn * r
                gh[j] = gh[j] * z  # the direct path; the matmul below adds dhw @ W_hh
        _gemm(blas, dhw[b0:b1], w_hh, dh[b0:b1], 1)
