"""Plain-numpy reference for the fused recurrent kernels in `rnn.py` (same functions, same results).

One layer and one direction of a recurrent network, over all time steps, given the input
projections ``xw = x @ W_ih.T + b_ih`` of shape (T, B, G*H) (G gates in the order of
`kernels.rnn_cells`). Readable and slow: the Numba kernels are tested against it.

Conventions shared with `rnn.py`:

* ``lengths[b]`` is the number of valid steps of sequence ``b``; step ``t`` is active for it when
  ``t < lengths[b]``. An inactive step leaves the state unchanged and outputs zero. The reverse
  direction processes ``t = T-1 .. 0``, so it starts from ``h0`` at each sequence's own last step.
* ``bptt_clip``: during backward, at every active step the gradient reaching the state
  ``h_t`` (output gradient plus the gradient from step t+1) is clipped before it flows through the
  cell, and so is the LSTM cell-state gradient ``dc_t`` (after it has received ``h_t``'s share).
  ``clip_mode`` "value" clamps each element to [-clip_value, clip_value] (Mikolov's error clipping);
  "norm" rescales each example's row to norm ``clip_value`` when its norm exceeds it.
* ``record``: ``norms[t, b] = ||dL/dh_t||_2`` of example b, *before* step t's clip (float64,
  shape (T, B), time order; 0 at inactive steps).
"""

from __future__ import annotations

import numpy as np

from ..rnn_cells import ELMAN_ACTIVATIONS, cell_kind


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


ACTIVATE = {"tanh": np.tanh, "relu": lambda a: np.maximum(a, 0), "sigmoid": _sigmoid}


_DERIVATIVE = {"tanh": lambda h: 1.0 - h * h, "relu": lambda h: (h > 0).astype(h.dtype),
               "sigmoid": lambda h: h * (1.0 - h)}


def act_derivative(h: np.ndarray, act: str) -> np.ndarray:
    """act'(pre-activation) written through the output h = act(pre)."""
    if act not in _DERIVATIVE:
        raise ValueError(f"act must be one of {', '.join(ELMAN_ACTIVATIONS)}, got {act!r}")
    return _DERIVATIVE[act](h)


def clip_state_grad(g: np.ndarray, clip_mode: str | None, clip_value: float) -> np.ndarray:
    """``bptt_clip`` of a (B, H) state gradient: by value, by each row's norm, or not (None)."""
    if clip_mode == "value":
        return np.clip(g, -clip_value, clip_value)
    if clip_mode == "norm":
        n = np.sqrt((g.astype(np.float64) ** 2).sum(axis=1, keepdims=True))
        scale = np.where(n > clip_value, clip_value / np.maximum(n, 1e-300), 1.0)
        return (g * scale).astype(g.dtype)
    return g


def _lengths(lengths: np.ndarray | None, T: int, B: int) -> np.ndarray:
    return np.full(B, T, np.int64) if lengths is None else np.asarray(lengths, np.int64)


def forward(mode, xw, w_hh, b_hh, h0, c0=None, lengths=None, reverse=False):
    """Run the recurrence. Returns ``(y (T,B,H), h_n (B,H), c_n (B,H) or None, saved)``."""
    kind = cell_kind(mode)
    T, B, G = xw.shape
    H = G // kind.gate_count
    lens = _lengths(lengths, T, B)
    y = np.zeros((T, B, H), xw.dtype)
    h = h0.copy()
    c = None if c0 is None else c0.copy()
    steps = []
    for t in range(T - 1, -1, -1) if reverse else range(T):
        m = (t < lens)[:, None]
        hw = h @ w_hh.T + b_hh
        if kind.has_cell_state:
            pre = xw[t] + hw
            i, f = _sigmoid(pre[:, :H]), _sigmoid(pre[:, H : 2 * H])
            g, o = np.tanh(pre[:, 2 * H : 3 * H]), _sigmoid(pre[:, 3 * H :])
            c_new = f * c + i * g
            h_new = o * np.tanh(c_new)
            steps.append((t, h, c, (i, f, g, o, c_new)))
            c = np.where(m, c_new, c)
        elif kind.separate_biases:
            r = _sigmoid(xw[t, :, :H] + hw[:, :H])
            z = _sigmoid(xw[t, :, H : 2 * H] + hw[:, H : 2 * H])
            hn = hw[:, 2 * H :]
            n = np.tanh(xw[t, :, 2 * H :] + r * hn)
            h_new = (1 - z) * n + z * h
            steps.append((t, h, None, (r, z, n, hn)))
        else:
            pre = xw[t] + hw
            h_new = ACTIVATE[kind.activation](pre)
            steps.append((t, h, None, (h_new,)))
        h = np.where(m, h_new, h)
        y[t] = np.where(m, h_new, 0)
    return y, h, c, steps


def backward(mode, saved, dy, dh_n, dc_n, w_hh, lengths=None, reverse=False,
             clip_mode=None, clip_value=0.0, record=False):
    """BPTT. Returns ``(dxw, dw_hh, db_hh, dh0, dc0 or None, norms (T,B) or None)``."""
    kind = cell_kind(mode)
    T, B, H = dy.shape
    lens = _lengths(lengths, T, B)
    G = kind.gate_count * H
    dxw = np.zeros((T, B, G), dy.dtype)
    dw_hh = np.zeros((G, H), dy.dtype)
    db_hh = np.zeros(G, dy.dtype)
    norms = np.zeros((T, B)) if record else None
    dh = dh_n.copy()
    dc = None if dc_n is None else dc_n.copy()
    for t, h_prev, c_prev, acts in reversed(saved):
        m = (t < lens)[:, None]
        g_h = np.where(m, dh + dy[t], 0)  # gradient reaching h_t (active rows)
        if record:
            norms[t] = np.sqrt((g_h.astype(np.float64) ** 2).sum(axis=1))
        g_h = clip_state_grad(g_h, clip_mode, clip_value)
        if kind.has_cell_state:
            i, f, g, o, c_new = acts
            tc = np.tanh(c_new)
            g_c = np.where(m, dc + g_h * o * (1 - tc * tc), 0)
            g_c = clip_state_grad(g_c, clip_mode, clip_value)
            dpre = np.concatenate(
                [g_c * g * i * (1 - i), g_c * c_prev * f * (1 - f), g_c * i * (1 - g * g),
                 g_h * tc * o * (1 - o)], axis=1)
            dhw = dpre
            dc = np.where(m, g_c * f, dc)
            direct = 0
        elif kind.separate_biases:
            r, z, n, hn = acts
            dn = g_h * (1 - z) * (1 - n * n)
            dr = dn * hn * r * (1 - r)
            dz = g_h * (h_prev - n) * z * (1 - z)
            dpre = np.concatenate([dr, dz, dn], axis=1)
            dhw = np.concatenate([dr, dz, dn * r], axis=1)
            direct = g_h * z
        else:
            (h_new,) = acts
            dpre = dhw = g_h * act_derivative(h_new, kind.activation)
            direct = 0
        dxw[t] = dpre
        dw_hh += dhw.T @ h_prev
        db_hh += dhw.sum(axis=0)
        dh = np.where(m, dhw @ w_hh + direct, dh)
    return dxw, dw_hh, db_hh, dh, dc, norms
