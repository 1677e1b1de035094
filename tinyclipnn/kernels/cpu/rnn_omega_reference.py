"""Plain-numpy reference of Pascanu et al.'s vanishing-gradient regularizer Ω (see `rnn_omega`).

Pascanu, Mikolov & Bengio (2013), Eq. 10, as the authors' code computes it (``trainingRNNs``,
``RNN.py``). For a tanh (relu, sigmoid) RNN layer ``h_t = act(W_ih x_t + W_hh h_{t-1} + b)``, step t
and example b, with ``g_t = dE/dh_t`` the gradient reaching ``h_t`` (output gradient plus what
flows back from step t+1, after any ``bptt_clip``) and ``v_t = g_t * act'(h_t)`` (act' written
through h_t: ``1 - h^2`` for tanh, ``h (1 - h)`` for sigmoid as their code's branches have them,
RNN.py lines 194-197 at commit 3f5df3f; ``h > 0`` for relu):

    r_t = ||v_t @ W_hh||^2 / ||g_t||^2        (= ||dE/dh_t . dh_t/dh_{t-1}||^2 / ||dE/dh_t||^2)
    Ω   = sum over kept (t, b) of (r_t - 1)^2 / n_kept

Kept: active steps (``t < lengths[b]``) whose ``||g_t||^2 >= bound`` (1e-20). Their code sums
over steps the batch mean and divides by the summed batch fraction of kept terms, which is this
mean over kept (t, b) pairs; Ω = 0 when nothing is kept. Its gradient w.r.t. ``W_hh`` treats
``g_t`` and ``h_t`` as constants (both are placeholders substituted after differentiation there):

    dΩ/dW_hh = sum over kept of c_t * outer(v_t, v_t @ W_hh),  c_t = 4 (r_t - 1) / (||g_t||^2 n_kept)
"""

from __future__ import annotations

import numpy as np

from .rnn_reference import act_derivative

__all__ = ["BOUND", "act_derivative", "omega_reference"]

BOUND = 1e-20


def omega_reference(g: np.ndarray, h: np.ndarray, w_hh: np.ndarray, valid: np.ndarray | None = None,
                    act: str = "tanh", bound: float = BOUND) -> tuple[float, np.ndarray, int]:
    """Ω, dΩ/dW_hh (dtype of ``w_hh``) and the number of kept terms.

    Args:
        g: (T, B, H) gradients reaching h_t; h: (T, B, H) the states h_t; w_hh: (H, H);
        valid: (T, B) bool, active steps (None: all); act: the layer's nonlinearity, "tanh",
        "relu" or "sigmoid".
    """
    g64, h64, w64 = (np.asarray(a, np.float64) for a in (g, h, w_hh))
    v = g64 * act_derivative(h64, act)
    H = w64.shape[0]
    u = (v.reshape(-1, H) @ w64).reshape(v.shape)
    x, y = (u * u).sum(axis=-1), (g64 * g64).sum(axis=-1)
    keep = y >= bound
    if valid is not None:
        keep &= np.asarray(valid, bool)
    n = int(keep.sum())
    if n == 0:
        return 0.0, np.zeros(w_hh.shape, w_hh.dtype), 0
    r = np.where(keep, x / np.where(keep, y, 1.0), 1.0)
    c = np.where(keep, 4.0 * (r - 1.0) / (np.where(keep, y, 1.0) * n), 0.0)
    dw = v.reshape(-1, H).T @ (c[..., None] * u).reshape(-1, H)
    return float(((r - 1.0) ** 2).sum() / n), dw.astype(w_hh.dtype), n
