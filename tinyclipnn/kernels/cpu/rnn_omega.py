"""Pascanu et al.'s vanishing-gradient regularizer Ω for the fused RNN layer (Numba).

The definition (and a plain-numpy reference) is in `rnn_omega_reference`. Here Ω is computed
right after the fused BPTT (`rnn.backward`) from what it already produced, so the BPTT kernels
are untouched:

* ``dxw[t] = v_t = g_t * act'(h_t)``, the per-step pre-activation gradients (after any
  ``bptt_clip``, zero at inactive steps);
* ``u_t = v_t @ W_hh`` for all steps: one matmul, the same product BPTT carried back to h_{t-1};
* ``g_t`` itself is rebuilt per row from the output gradient ``dy[t]`` plus the gradient that
  reached h_t from the step after it in processing order (``u`` of that step, or ``dh_n`` at a
  sequence's last step), clipped exactly as the BPTT kernels clip it.

Then one pass over (t, b) gives ``r_t``, Ω and the per-step coefficients, and
``dΩ/dW_hh = dxw^T @ (c * u)`` is a second matmul. Sums over H accumulate in float64.
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import INNER, njit
from ..runtime import one_blas_thread as one_thread
from ._blas import matmul
from .rnn import check_lengths, clip_code
from .rnn_omega_reference import BOUND, omega_reference

__all__ = ["BOUND", "omega_fused", "omega_reference"]

# the float64 sums over H reassociate (they vectorise; Pascanu's size, T 100, B 20, H 50: the
# terms pass took ~0.3 ms of a ~1.6 ms step); no nnan/ninf: values stay checked
_SUMS = {"cache": True, "nogil": True, "fastmath": {"reassoc", "contract"}}


@njit(**_SUMS, **INNER)
def _state_grad_sq(dy_row, inc_row, clip_mode, clip_value):
    """||clip(dy_row + inc_row)||^2 in float64, clipped as the BPTT kernels clip (1 value, 2 norm)."""
    acc = 0.0
    if clip_mode == 1:
        lo, hi = dy_row.dtype.type(-clip_value), dy_row.dtype.type(clip_value)
        for j in range(dy_row.shape[0]):
            v = np.float64(min(max(dy_row[j] + inc_row[j], lo), hi))
            acc += v * v
        return acc
    for j in range(dy_row.shape[0]):
        v = np.float64(dy_row[j] + inc_row[j])
        acc += v * v
    if clip_mode == 2 and math.sqrt(acc) > clip_value:
        s = clip_value / math.sqrt(acc)
        acc = 0.0
        for j in range(dy_row.shape[0]):
            v = np.float64(dy_row[j] + inc_row[j]) * s
            acc += v * v
    return acc


@njit(**_SUMS)
def _omega_terms(u, dy, dh_n, lengths, reverse, clip_mode, clip_value, bound, coef):
    """Fill coef[t, b] = (r - 1) / ||g||^2 for kept terms (0 elsewhere); return (sum (r-1)^2, n)."""
    T, B, H = u.shape
    total, n = 0.0, 0
    for b in range(B):
        L = lengths[b]
        for t in range(L):
            nxt = t - 1 if reverse else t + 1
            inc = u[nxt, b] if 0 <= nxt < L else dh_n[b]
            y = _state_grad_sq(dy[t, b], inc, clip_mode, clip_value)
            if y < bound:
                continue
            x = 0.0
            for j in range(H):
                x += np.float64(u[t, b, j]) * np.float64(u[t, b, j])
            r1 = x / y - 1.0
            total += r1 * r1
            n += 1
            coef[t, b] = r1 / y
    return total, n


def omega_fused(dxw: np.ndarray, dy: np.ndarray, dh_n: np.ndarray, w_hh: np.ndarray,
                lengths: np.ndarray | None = None, reverse: bool = False,
                clip_mode: str | None = None, clip_value: float = 0.0,
                bound: float = BOUND) -> tuple[float, np.ndarray, int]:
    """Ω, dΩ/dW_hh and the number of kept terms, from the fused BPTT's outputs.

    dxw (T, B, H) pre-activation gradients from `rnn.backward`; dy (T, B, H) output gradients;
    dh_n (B, H) gradient of the final state; w_hh (H, H); lengths, reverse, clip_mode and
    clip_value exactly as given to `rnn.backward` (a tanh, relu or sigmoid layer: the activation
    enters only through ``dxw``).
    """
    code = clip_code(clip_mode)
    T, B, H = dxw.shape
    dt = dxw.dtype
    lens = check_lengths(lengths, T, B)
    if T * B == 0:
        return 0.0, np.zeros((H, H), dt), 0
    v = np.ascontiguousarray(dxw).reshape(T * B, H)
    with one_thread():
        u = matmul(v, np.ascontiguousarray(w_hh, dt))
        coef = np.zeros(T * B, np.float64)
        total, n = _omega_terms(u.reshape(T, B, H), np.ascontiguousarray(dy, dt),
                                np.ascontiguousarray(dh_n, dt), lens, bool(reverse),
                                code, float(clip_value), float(bound),
                                coef.reshape(T, B))
        if n == 0:
            return 0.0, np.zeros((H, H), dt), 0
        u *= (coef * (4.0 / n)).astype(dt)[:, None]
        dw = matmul(v.T, u)
    return total / n, dw, n
