"""Softmax cross-entropy over rows of logits, forward and backward, one pass per row each.

Why: numpy's log-softmax of a (2,048, 96) float32 batch (a char LM's logits) makes five
passes and three (N, C) temporaries, and its row maxima and sums over a short last axis are
slow (~0.14 ms for the max alone on Zen 4): forward and backward took ~0.65 ms of a ~15 ms
training step; these kernels take ~0.1 ms. The operations follow `nn.functional`'s numpy path
(``shifted = x - max``, ``logp = shifted - log(sum(exp(shifted)))``), with the row sum in
float64, so results agree with it to float rounding. ``exp`` is the recurrent kernels' `fexp`
(vectorised; float32 within 2 ulp of ``np.exp``, float64 within 1).
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import INNER, njit
from .rnn_kernels import _JIT_OPTS, fexp


@njit(cache=True, nogil=True, fastmath={"reassoc", "nsz"}, **INNER)
def _row_max(row):
    """max of a row (vectorised: NaN need not propagate here, the sum of exponentials does:
    a NaN anywhere in the row makes its loss and gradient NaN, as on the numpy path; a NaN-
    propagating compare loop was 4x slower)."""
    m = row[0]
    for j in range(1, row.shape[0]):
        m = max(m, row[j])
    return m


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract", "nsz"},
      **INNER)
def _sum_exp(row, m):
    """sum(exp(row - m)) in float64 (reassociated: the loop vectorises)."""
    s = 0.0
    for j in range(row.shape[0]):
        s += np.float64(fexp(row[j] - m))
    return s


@njit(cache=True, nogil=True, **_JIT_OPTS)
def logsumexp_rows(x, t, shift, lse, picked):
    """Per row i of x (N, C): ``shift[i] = max(x[i])``, ``lse[i] = log(sum(exp(x[i] -
    shift[i])))`` and ``picked[i] = (x[i, t[i]] - shift[i]) - lse[i]``, the target's
    log-probability."""
    for i in range(x.shape[0]):
        row = x[i]
        m = _row_max(row)
        ls = row.dtype.type(math.log(_sum_exp(row, m)))
        shift[i], lse[i] = m, ls
        picked[i] = (row[t[i]] - m) - ls


@njit(cache=True, nogil=True, **_JIT_OPTS)
def softmax_grad_rows(x, t, shift, lse, w, g):
    """``g[i] = softmax(x[i]) * w[i]``, then ``g[i, t[i]] -= w[i]``: the gradient of
    ``w[i] * -log softmax(x[i])[t[i]]`` (``shift`` and ``lse`` from `logsumexp_rows`)."""
    n, c = x.shape
    for i in range(n):
        row, out, wi, m, li = x[i], g[i], w[i], shift[i], lse[i]
        for j in range(c):
            out[j] = fexp((row[j] - m) - li) * wi
        out[t[i]] -= wi
