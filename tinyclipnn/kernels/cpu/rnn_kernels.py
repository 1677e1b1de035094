"""Numba kernels behind `rnn.py`: one recurrent layer and direction, time loop forward and BPTT.

Every ``@njit`` function of the recurrent stack lives in this one file, so Numba's on-disk cache
(keyed on this file) is invalidated whenever any of them changes. Arrays are C-contiguous and of
one float dtype (float32 or float64); each kernel is compiled once per dtype on first use.

Speed: each step does one BLAS matmul (``h @ W_hh.T`` forward, ``dgates @ W_hh`` backward; run
transposed when that is faster, see `_matmul_rows`) and element-wise loops that LLVM vectorises.
Two things make that happen: ``error_model="numpy"`` (Python's error model puts a ZeroDivisionError
branch in every division, which blocks vectorisation of sigmoid / tanh), and ``fexp``, a
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
from numba import types
from numba.extending import intrinsic, overload

from .._jit import njit

_F = np.float32
# numpy's error model: float division by zero gives inf/nan instead of raising, so the division
# loops (sigmoid / tanh) carry no ZeroDivisionError branch and LLVM vectorises them (~4x faster).
# fastmath: FMA contraction, reciprocal for division, no signed zeros; never reassociation
# (the exp range reduction relies on exact rounding) and no nnan/ninf (values stay checked).
_JIT_OPTS = {"error_model": "numpy", "fastmath": {"contract", "arcp", "nsz", "afn"}}
_JIT = {"cache": True, "nogil": True, **_JIT_OPTS}


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


@njit(**_JIT)
def _sig(x):
    one = type(x)(1)
    return one / (one + fexp(-x))


@njit(**_JIT)
def _tanh(x):
    one = type(x)(1)
    return (one + one) / (one + fexp(-(x + x))) - one


@njit(**_JIT)
def _act_rows(out, x, tanh):
    """out = tanh(x) or sigmoid(x) element-wise (1-D arrays; for tests)."""
    for j in range(x.shape[0]):
        out[j] = _tanh(x[j]) if tanh else _sig(x[j])


@njit(**_JIT)
def _row_norm(row):
    acc = 0.0
    for j in range(row.shape[0]):
        v = np.float64(row[j])
        acc += v * v
    return math.sqrt(acc)


@njit(**_JIT)
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


@njit(**_JIT)
def _take_dh(dh_row, dy_row, norms, t, b, record, clip_mode, clip_value):
    """dh += dy (gradient reaching h_t); record its norm; clip it."""
    for j in range(dh_row.shape[0]):
        dh_row[j] += dy_row[j]
    if record:
        norms[t, b] = _row_norm(dh_row)
    _clip_row(dh_row, clip_mode, clip_value)


@njit(**_JIT)
def _carry(dh, dhp, t, lengths, b0, b1):
    """dh <- dhp on rows active at step t; inactive rows keep their gradient."""
    for b in range(b0, b1):
        if t < lengths[b]:
            dh[b] = dhp[b]


@njit(**_JIT)
def _cols_to_rows(cols, rows):
    """rows = cols.T for a (G, b) matmul result, in 16-row tiles that stay in L1 (2x faster)."""
    G, nb = cols.shape
    tail = G - G % 16
    for jb in range(0, tail, 16):
        for k in range(nb):
            for jj in range(16):
                rows[k, jb + jj] = cols[jb + jj, k]
    for k in range(nb):
        for j in range(tail, G):
            rows[k, j] = cols[j, k]


# OpenBLAS multiplies (b, K) @ (K, N) faster as W (N, K) @ x.T (K, b) (the batch slice as
# columns of the result, the rows passed as an F-ordered view) once b * K * N passes about 1e6;
# below that its small-matrix kernel makes the plain row orientation faster. Float32, 64 steps,
# hidden 128: LSTM batch 32 3.75 -> 2.9 ms, batch 16 2.45 -> 1.6 ms; hidden 32 the other way.
_COLS_MIN_WORK = 1_000_000


@njit(**_JIT)
def _matmul_rows(x, w, w_t, cols, out):
    """out = x @ w.T for x (b, K), w (N, K) and w_t = w.T contiguous; cols is (N, b) scratch."""
    if x.shape[0] * w.shape[0] * w.shape[1] >= _COLS_MIN_WORK:
        np.dot(w, x.T, cols)
        _cols_to_rows(cols, out)
    else:
        np.dot(x, w_t, out)


# ----------------------------------------------------------------------------- RNN (tanh / relu)
# Each kernel runs the whole time loop for batch rows [b0, b1): rows of a batch never interact,
# so `rnn._run` splits the batch over threads (nogil) with no per-step synchronisation.
@njit(**_JIT)
def _rnn_fwd_rows(xw, w_hh, w_hh_t, b_hh, lengths, reverse, relu, y, h, hprev, hw, b0, b1):
    T, B, H = xw.shape
    zero = xw.dtype.type(0)
    hw_cols = np.empty((H, b1 - b0), xw.dtype)
    for s in range(T):
        t = T - 1 - s if reverse else s
        hprev[t, b0:b1] = h[b0:b1]
        _matmul_rows(h[b0:b1], w_hh, w_hh_t, hw_cols, hw[b0:b1])
        for b in range(b0, b1):
            if t >= lengths[b]:
                continue
            x, hwr, hr = xw[t, b], hw[b], h[b]
            if relu:
                for j in range(H):
                    hr[j] = max(x[j] + hwr[j] + b_hh[j], zero)
            else:
                for j in range(H):
                    hr[j] = _tanh(x[j] + hwr[j] + b_hh[j])
            y[t, b] = hr


@njit(**_JIT)
def _rnn_bwd_rows(y, dy, w_hh, w_hh_t, lengths, reverse, relu, clip_mode, clip_value, record, dxw,
                  dh, norms, dhp, b0, b1):
    T, B, H = y.shape
    one, zero = dy.dtype.type(1), dy.dtype.type(0)
    dhp_cols = np.empty((H, b1 - b0), dy.dtype)
    for s in range(T):
        t = s if reverse else T - 1 - s
        for b in range(b0, b1):
            if t >= lengths[b]:
                dxw[t, b] = 0  # dxw comes uninitialised
                continue
            _take_dh(dh[b], dy[t, b], norms, t, b, record, clip_mode, clip_value)
            yr, d, g = y[t, b], dxw[t, b], dh[b]
            if relu:
                for j in range(H):
                    d[j] = g[j] if yr[j] > zero else zero
            else:
                for j in range(H):
                    d[j] = g[j] * (one - yr[j] * yr[j])
        _matmul_rows(dxw[t, b0:b1], w_hh_t, w_hh, dhp_cols, dhp[b0:b1])
        _carry(dh, dhp, t, lengths, b0, b1)


# ----------------------------------------------------------------------------- LSTM
@njit(**_JIT)
def _lstm_fwd_rows(xw, w_hh, w_hh_t, b_hh, lengths, reverse, y, h, c, hprev, cprev, tcs, b0, b1):
    T, B, G = xw.shape
    H = G // 4
    hw_cols, hw = np.empty((G, b1 - b0), xw.dtype), np.empty((b1 - b0, G), xw.dtype)
    for s in range(T):
        t = T - 1 - s if reverse else s
        hprev[t, b0:b1] = h[b0:b1]
        cprev[t, b0:b1] = c[b0:b1]
        _matmul_rows(h[b0:b1], w_hh, w_hh_t, hw_cols, hw)
        for b in range(b0, b1):
            if t >= lengths[b]:
                continue
            a, hwr = xw[t, b], hw[b - b0]  # gates i, f, g, o overwrite the pre-activations
            for j in range(H):
                a[j] = _sig(a[j] + hwr[j] + b_hh[j])
                a[H + j] = _sig(a[H + j] + hwr[H + j] + b_hh[H + j])
                a[2 * H + j] = _tanh(a[2 * H + j] + hwr[2 * H + j] + b_hh[2 * H + j])
                a[3 * H + j] = _sig(a[3 * H + j] + hwr[3 * H + j] + b_hh[3 * H + j])
            cr, tc, hr = c[b], tcs[t, b], h[b]
            for j in range(H):
                cr[j] = a[H + j] * cr[j] + a[j] * a[2 * H + j]
                tc[j] = _tanh(cr[j])
                hr[j] = a[3 * H + j] * tc[j]
            y[t, b] = hr


@njit(**_JIT)
def _lstm_bwd_rows(gates, cprev, tcs, dy, w_hh, w_hh_t, lengths, reverse, clip_mode, clip_value,
                   record, dxw, dh, dc, norms, dhp, b0, b1):
    T, B, G = gates.shape
    H = G // 4
    one = dy.dtype.type(1)
    dhp_cols = np.empty((H, b1 - b0), dy.dtype)
    for s in range(T):
        t = s if reverse else T - 1 - s
        for b in range(b0, b1):
            if t >= lengths[b]:
                dxw[t, b] = 0  # dxw comes uninitialised
                continue
            _take_dh(dh[b], dy[t, b], norms, t, b, record, clip_mode, clip_value)
            a, d, tc, cp, gh, gc = gates[t, b], dxw[t, b], tcs[t, b], cprev[t, b], dh[b], dc[b]
            for j in range(H):
                o = a[3 * H + j]
                gc[j] += gh[j] * o * (one - tc[j] * tc[j])
                d[3 * H + j] = gh[j] * tc[j] * o * (one - o)
            _clip_row(gc, clip_mode, clip_value)
            for j in range(H):
                i, f, g = a[j], a[H + j], a[2 * H + j]
                d[j] = gc[j] * g * i * (one - i)
                d[H + j] = gc[j] * cp[j] * f * (one - f)
                d[2 * H + j] = gc[j] * i * (one - g * g)
                gc[j] = gc[j] * f
        _matmul_rows(dxw[t, b0:b1], w_hh_t, w_hh, dhp_cols, dhp[b0:b1])
        _carry(dh, dhp, t, lengths, b0, b1)


# ----------------------------------------------------------------------------- GRU
@njit(**_JIT)
def _gru_fwd_rows(xw, w_hh, w_hh_t, b_hh, lengths, reverse, y, h, hprev, hn_all, hw, b0, b1):
    T, B, G = xw.shape
    H = G // 3
    one = xw.dtype.type(1)
    hw_cols = np.empty((G, b1 - b0), xw.dtype)
    for s in range(T):
        t = T - 1 - s if reverse else s
        hprev[t, b0:b1] = h[b0:b1]
        _matmul_rows(h[b0:b1], w_hh, w_hh_t, hw_cols, hw[b0:b1])
        for b in range(b0, b1):
            if t >= lengths[b]:
                continue
            a, hwr, hn = xw[t, b], hw[b], hn_all[t, b]  # gates r, z, n overwrite pre-activations
            for j in range(2 * H):
                a[j] = _sig(a[j] + hwr[j] + b_hh[j])
            for j in range(H):
                hn[j] = hwr[2 * H + j] + b_hh[2 * H + j]
            for j in range(H):
                a[2 * H + j] = _tanh(a[2 * H + j] + a[j] * hn[j])
            hr = h[b]
            for j in range(H):
                z = a[H + j]
                hr[j] = (one - z) * a[2 * H + j] + z * hr[j]
            y[t, b] = hr


@njit(**_JIT)
def _gru_bwd_rows(gates, hn_all, hprev, dy, w_hh, w_hh_t, lengths, reverse, clip_mode, clip_value,
                  record, dxw, dhn_pre, dh, norms, dhw, dhp, b0, b1):
    T, B, G = gates.shape
    H = G // 3
    one = dy.dtype.type(1)
    dhp_cols = np.empty((H, b1 - b0), dy.dtype)
    for s in range(T):
        t = s if reverse else T - 1 - s
        for b in range(b0, b1):
            if t >= lengths[b]:  # dxw, dhn_pre come uninitialised
                dhw[b], dxw[t, b], dhn_pre[t, b] = 0, 0, 0
                continue
            _take_dh(dh[b], dy[t, b], norms, t, b, record, clip_mode, clip_value)
            a, d, dw, gh = gates[t, b], dxw[t, b], dhw[b], dh[b]
            hn, hp, dnp = hn_all[t, b], hprev[t, b], dhn_pre[t, b]
            for j in range(H):
                r, z, n = a[j], a[H + j], a[2 * H + j]
                dn = gh[j] * (one - z) * (one - n * n)
                dr = dn * hn[j] * r * (one - r)
                dz = gh[j] * (hp[j] - n) * z * (one - z)
                d[j], d[H + j], d[2 * H + j] = dr, dz, dn
                dw[j], dw[H + j], dw[2 * H + j] = dr, dz, dn * r
                dnp[j] = dn * r
        _matmul_rows(dhw[b0:b1], w_hh_t, w_hh, dhp_cols, dhp[b0:b1])
        for b in range(b0, b1):
            if t < lengths[b]:
                a, gh, dp = gates[t, b], dh[b], dhp[b]
                for j in range(H):
                    gh[j] = dp[j] + gh[j] * a[H + j]
