"""Numba kernels behind `rnn.py`: one recurrent layer and direction, time loop forward and BPTT.

Every ``@njit`` function of the recurrent stack lives in this one file, so Numba's on-disk cache
(keyed on this file) is invalidated whenever any of them changes. Arrays are C-contiguous and of
one float dtype (float32 or float64); each kernel is compiled once per dtype on first use.

Speed: each step does one BLAS matmul (``h @ W_hh.T`` forward, ``dgates @ W_hh`` backward) and
element-wise loops that LLVM vectorises. ``vexp`` is a branch-free exp (Cephes range reduction,
polynomial, exponent bits written through an integer view) because calls to libm's ``exp`` do
not vectorise; sigmoid and tanh are ``mul / (1 + exp(neg * x)) + add`` with per-column constants
(sigmoid: neg=-1, mul=1, add=0; tanh: neg=-2, mul=2, add=-1). float64 ``vexp`` is within 1 ulp
of ``np.exp``; float32 within 2 ulp. Arguments are clamped so no inf appears (the result
saturates at ~1e-38 / 1e38, far below any effect on sigmoid or tanh).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

_F = np.float32


def vexp(z, out):  # pragma: no cover - replaced by the overload inside jitted code
    """out[:] = exp(z[:]) for 1-D arrays; ``z`` is used as scratch (its contents are lost)."""
    out[:] = np.exp(z)


def _vexp32(z, out):
    lo, hi, l2e, magic = _F(-87.3), _F(88.3), _F(1.44269504088896341), _F(12582912.0)
    c1, c2, one = _F(0.693359375), _F(-2.12194440e-4), _F(1.0)
    p0, p1, p2 = _F(1.9875691500e-4), _F(1.3981999507e-3), _F(8.3334519073e-3)
    p3, p4, p5 = _F(4.1665795894e-2), _F(1.6666665459e-1), _F(5.0000001201e-1)
    bits = out.view(np.int32)
    for j in range(z.shape[0]):
        x = min(max(z[j], lo), hi)
        kf = (x * l2e + magic) - magic  # round to nearest integer
        r = x - kf * c1 - kf * c2
        p = ((((p0 * r + p1) * r + p2) * r + p3) * r + p4) * r + p5
        z[j] = p * r * r + r + one
        bits[j] = (np.int32(kf) + 127) << 23  # 2**k
    for j in range(z.shape[0]):
        out[j] = z[j] * out[j]


def _vexp64(z, out):
    l2e, magic = 1.4426950408889634, 6755399441055744.0
    c1, c2 = 6.93145751953125e-1, 1.42860682030941723212e-6
    bits = out.view(np.int64)
    for j in range(z.shape[0]):
        x = min(max(z[j], -708.0), 709.0)
        kf = (x * l2e + magic) - magic
        r = x - kf * c1 - kf * c2
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
        z[j] = p * r + 1.0
        bits[j] = (np.int64(kf) + 1023) << 52
    for j in range(z.shape[0]):
        out[j] = z[j] * out[j]


@overload(vexp)
def _vexp_overload(z, out):
    return _vexp32 if z.dtype == types.float32 else _vexp64


@njit(cache=True)
def _act_row(out, x, hw, bias, neg, mul, add, zr, er):
    """out[k] = mul[k] / (1 + exp(neg[k] * (x[k] + hw[k] + bias[k]))) + add[k]."""
    one = out.dtype.type(1)
    for k in range(out.shape[0]):
        zr[k] = neg[k] * (x[k] + hw[k] + bias[k])
    vexp(zr, er)
    for k in range(out.shape[0]):
        out[k] = mul[k] / (one + er[k]) + add[k]


@njit(cache=True)
def _tanh_row(out, x, zr, er):
    """out[k] = tanh(x[k])."""
    one, two = out.dtype.type(1), out.dtype.type(2)
    for k in range(out.shape[0]):
        zr[k] = -two * x[k]
    vexp(zr, er)
    for k in range(out.shape[0]):
        out[k] = two / (one + er[k]) - one


@njit(cache=True)
def _row_norm(row):
    acc = 0.0
    for j in range(row.shape[0]):
        v = np.float64(row[j])
        acc += v * v
    return math.sqrt(acc)


@njit(cache=True)
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


@njit(cache=True)
def _take_dh(dh_row, dy_row, norms, t, b, record, clip_mode, clip_value):
    """dh += dy (gradient reaching h_t); record its norm; clip it."""
    for j in range(dh_row.shape[0]):
        dh_row[j] += dy_row[j]
    if record:
        norms[t, b] = _row_norm(dh_row)
    _clip_row(dh_row, clip_mode, clip_value)


@njit(cache=True)
def _carry(dh, dhp, t, lengths, b0, b1):
    """dh <- dhp on rows active at step t; inactive rows keep their gradient."""
    for b in range(b0, b1):
        if t < lengths[b]:
            dh[b] = dhp[b]


# ----------------------------------------------------------------------------- RNN (tanh / relu)
# Each kernel runs the whole time loop for batch rows [b0, b1): rows of a batch never interact,
# so the drivers at the end split the batch over threads (prange) with no per-step synchronisation.
@njit(cache=True)
def _rnn_fwd_rows(xw, w_hh_t, b_hh, lengths, reverse, relu, neg, mul, add, y, h, hprev, hw, b0,
                  b1):
    T, B, H = xw.shape
    act, zr, er = np.empty(H, xw.dtype), np.empty(H, xw.dtype), np.empty(H, xw.dtype)
    zero = xw.dtype.type(0)
    for s in range(T):
        t = T - 1 - s if reverse else s
        hprev[t, b0:b1] = h[b0:b1]
        np.dot(h[b0:b1], w_hh_t, hw[b0:b1])
        for b in range(b0, b1):
            if t >= lengths[b]:
                continue
            if relu:
                for j in range(H):
                    act[j] = max(xw[t, b, j] + hw[b, j] + b_hh[j], zero)
            else:
                _act_row(act, xw[t, b], hw[b], b_hh, neg, mul, add, zr, er)
            h[b] = act
            y[t, b] = act


@njit(cache=True)
def _rnn_bwd_rows(y, dy, w_hh, lengths, reverse, relu, clip_mode, clip_value, record, dxw, dh,
                  norms, dhp, b0, b1):
    T, B, H = y.shape
    one, zero = dy.dtype.type(1), dy.dtype.type(0)
    for s in range(T):
        t = s if reverse else T - 1 - s
        for b in range(b0, b1):
            if t >= lengths[b]:
                continue
            _take_dh(dh[b], dy[t, b], norms, t, b, record, clip_mode, clip_value)
            yr, d, g = y[t, b], dxw[t, b], dh[b]
            if relu:
                for j in range(H):
                    d[j] = g[j] if yr[j] > zero else zero
            else:
                for j in range(H):
                    d[j] = g[j] * (one - yr[j] * yr[j])
        np.dot(dxw[t, b0:b1], w_hh, dhp[b0:b1])
        _carry(dh, dhp, t, lengths, b0, b1)


# ----------------------------------------------------------------------------- LSTM
@njit(cache=True)
def _lstm_fwd_rows(xw, w_hh_t, b_hh, lengths, reverse, neg, mul, add, y, h, c, hprev, cprev, tcs,
                   hw, b0, b1):
    T, B, G = xw.shape
    H = G // 4
    dt = xw.dtype
    zr, er = np.empty(G, dt), np.empty(G, dt)
    cn, tc, zh, eh = np.empty(H, dt), np.empty(H, dt), np.empty(H, dt), np.empty(H, dt)
    for s in range(T):
        t = T - 1 - s if reverse else s
        hprev[t, b0:b1] = h[b0:b1]
        cprev[t, b0:b1] = c[b0:b1]
        np.dot(h[b0:b1], w_hh_t, hw[b0:b1])
        for b in range(b0, b1):
            if t >= lengths[b]:
                continue
            a = xw[t, b]
            _act_row(a, a, hw[b], b_hh, neg, mul, add, zr, er)
            cr = c[b]
            for j in range(H):
                cn[j] = a[H + j] * cr[j] + a[j] * a[2 * H + j]
            _tanh_row(tc, cn, zh, eh)
            c[b] = cn
            tcs[t, b] = tc
            hr, yr = h[b], y[t, b]
            for j in range(H):
                hr[j] = a[3 * H + j] * tc[j]
                yr[j] = hr[j]


@njit(cache=True)
def _lstm_bwd_rows(gates, cprev, tcs, dy, w_hh, lengths, reverse, clip_mode, clip_value, record,
                   dxw, dh, dc, norms, dhp, b0, b1):
    T, B, G = gates.shape
    H = G // 4
    one = dy.dtype.type(1)
    for s in range(T):
        t = s if reverse else T - 1 - s
        for b in range(b0, b1):
            if t >= lengths[b]:
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
        np.dot(dxw[t, b0:b1], w_hh, dhp[b0:b1])
        _carry(dh, dhp, t, lengths, b0, b1)


# ----------------------------------------------------------------------------- GRU
@njit(cache=True)
def _gru_fwd_rows(xw, w_hh_t, b_hh, lengths, reverse, neg, mul, add, y, h, hprev, hn_all, hw, b0,
                  b1):
    T, B, G = xw.shape
    H = G // 3
    dt = xw.dtype
    zr, er = np.empty(2 * H, dt), np.empty(2 * H, dt)
    pre, zh, eh = np.empty(H, dt), np.empty(H, dt), np.empty(H, dt)
    one = dt.type(1)
    for s in range(T):
        t = T - 1 - s if reverse else s
        hprev[t, b0:b1] = h[b0:b1]
        np.dot(h[b0:b1], w_hh_t, hw[b0:b1])
        for b in range(b0, b1):
            if t >= lengths[b]:
                continue
            a, hwr, hn = xw[t, b], hw[b], hn_all[t, b]
            _act_row(a[: 2 * H], a, hwr, b_hh, neg, mul, add, zr, er)
            for j in range(H):
                hn[j] = hwr[2 * H + j] + b_hh[2 * H + j]
                pre[j] = a[2 * H + j] + a[j] * hn[j]
            _tanh_row(a[2 * H :], pre, zh, eh)
            hr, yr = h[b], y[t, b]
            for j in range(H):
                z = a[H + j]
                hr[j] = (one - z) * a[2 * H + j] + z * hr[j]
                yr[j] = hr[j]


@njit(cache=True)
def _gru_bwd_rows(gates, hn_all, hprev, dy, w_hh, lengths, reverse, clip_mode, clip_value, record,
                  dxw, dhn_pre, dh, norms, dhw, dhp, b0, b1):
    T, B, G = gates.shape
    H = G // 3
    one = dy.dtype.type(1)
    for s in range(T):
        t = s if reverse else T - 1 - s
        for b in range(b0, b1):
            if t >= lengths[b]:
                dhw[b] = 0
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
        np.dot(dhw[b0:b1], w_hh, dhp[b0:b1])
        for b in range(b0, b1):
            if t < lengths[b]:
                a, gh, dp = gates[t, b], dh[b], dhp[b]
                for j in range(H):
                    gh[j] = dp[j] + gh[j] * a[H + j]


# ----------------------------------------------------------------------------- parallel drivers
# ``*_par(n, B, *args)`` runs ``*_rows(*args, b0, b1)`` on n slices of the batch, one per thread.
@njit(cache=True, parallel=True)
def rnn_fwd_par(n, B, *args):
    for c in prange(n):
        _rnn_fwd_rows(*args, c * B // n, (c + 1) * B // n)


@njit(cache=True, parallel=True)
def rnn_bwd_par(n, B, *args):
    for c in prange(n):
        _rnn_bwd_rows(*args, c * B // n, (c + 1) * B // n)


@njit(cache=True, parallel=True)
def lstm_fwd_par(n, B, *args):
    for c in prange(n):
        _lstm_fwd_rows(*args, c * B // n, (c + 1) * B // n)


@njit(cache=True, parallel=True)
def lstm_bwd_par(n, B, *args):
    for c in prange(n):
        _lstm_bwd_rows(*args, c * B // n, (c + 1) * B // n)


@njit(cache=True, parallel=True)
def gru_fwd_par(n, B, *args):
    for c in prange(n):
        _gru_fwd_rows(*args, c * B // n, (c + 1) * B // n)


@njit(cache=True, parallel=True)
def gru_bwd_par(n, B, *args):
    for c in prange(n):
        _gru_bwd_rows(*args, c * B // n, (c + 1) * B // n)
