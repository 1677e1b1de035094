"""One recurrent layer and direction, all time steps, as one autograd node (the fused path).

Forward: the input projection for every step is one matmul (``x @ W_ih.T``; ``b_ih`` is added
there for GRU, folded into the kernel's per-step bias ``b_hh + b_ih`` otherwise), then the Numba
kernel runs the recurrence and saves what BPTT needs. Large internal buffers (the projections,
saved states, their gradients) come from `kernels.cpu._workspace`, recycled between steps.
Backward: the Numba BPTT kernel (with optional per-step clipping and gradient-norm recording),
then one matmul each for ``dx``, ``dW_ih`` and ``dW_hh``. The kernels are imported on first use,
so ``import tinyclipnn`` neither imports Numba nor compiles anything; without numba, `apply`
runs the composed path of `rnn` instead (one warning).

An `Embedding` output fed straight in (``x = E[idx]``, or its batch_first transpose, with no
hook on it) is not multiplied by ``W_ih`` row by row: ``x @ W_ih.T`` is ``(E @ W_ih.T)[idx]``,
a (vocabulary, G) product and a gather, and backward sums the projection gradients per table
row (`kernels.cpu.scatter`) instead of two (T*B, G) products for ``dx`` and ``dW_ih``. The
table then gets its gradient from this node (the lookup's own node is left unused). Same
numbers up to float rounding; in a char LM (vocabulary 96, 2,048 tokens, G 512) it saves
three of the layer's six large products.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from ..autograd import Function, is_grad_enabled
from ..kernels import runtime as workspace

_NO_KERNELS: list[str] = []  # why the Numba kernels cannot be used (set on first failure)


def _kernels():
    from ..kernels.cpu import rnn

    return rnn


def kernels_available() -> bool:
    """True when the Numba kernels import; otherwise one warning, and False from then on."""
    if _NO_KERNELS:
        return False
    try:
        _kernels()
    except Exception as e:  # noqa: BLE001 - numba missing or broken: run without it
        _NO_KERNELS.append(f"{type(e).__name__}: {e}")
        warnings.warn(f"tinyclipnn.nn: the fused RNN/LSTM/GRU kernels need numba, which is "
                      f"unavailable ({_NO_KERNELS[0]}); recurrent layers use the composed "
                      "autograd path instead (same results, slower)", RuntimeWarning,
                      stacklevel=4)
        return False
    return True


class FusedRecurrentLayer(Function):
    """``apply(x, w_ih, w_hh, b_ih, b_hh, h0, c0, mode=..., ...)`` -> ``(y, h_n[, c_n])``.

    x (T, B, I) time-major; h0, c0 (B, H) (c0 None unless mode == "LSTM"); biases may be None.
    Keyword arguments: ``mode``, ``reverse``, ``lengths`` ((B,) int array or None),
    ``clip_mode`` (None / "value" / "norm"), ``clip_value``, ``record`` (None, or a callable
    that backward calls with the (T, B) array of ||dL/dh_t||), ``omega`` (None, or
    ``(alpha, report)`` for a tanh/relu RNN: backward adds ``alpha * dΩ/dW_hh``, Pascanu's
    vanishing-gradient regularizer from `kernels.cpu.rnn_omega`, and calls ``report(Ω)``).
    """

    @classmethod
    def apply(cls, x, w_ih, w_hh, b_ih, b_hh, h0, c0, *, mode: str, reverse: bool = False,
              lengths=None, clip_mode=None, clip_value=0.0, record=None, omega=None):
        if kernels_available():
            lookup = _embedding_lookup(x, w_ih)
            if lookup is not None:  # x = table[idx]: project the table, not every step
                x, idx = lookup
            else:
                idx = None
            return super().apply(x, w_ih, w_hh, b_ih, b_hh, h0, c0, mode=mode, reverse=reverse,
                                 lengths=lengths, clip_mode=clip_mode, clip_value=clip_value,
                                 record=record, omega=omega, idx=idx)
        from .rnn import _composed_direction  # without numba: the per-step autograd path

        y, h_n, c_n = _composed_direction(mode, x, (w_ih, w_hh, b_ih, b_hh), h0, c0, reverse,
                                          lengths, clip_mode, clip_value, record, omega)
        return (y, h_n, c_n) if mode == "LSTM" else (y, h_n)

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, h0, c0, *, mode: str, reverse: bool = False,
                lengths: np.ndarray | None = None, clip_mode: str | None = None,
                clip_value: float = 0.0, record: Callable[[np.ndarray], None] | None = None,
                omega: tuple[float, Callable[[float], None]] | None = None,
                idx: np.ndarray | None = None):
        K = _kernels()
        with K.one_thread():  # BLAS pools idle: our kernels and `matmul` split over threads
            dt = w_ih.dtype
            G, I = w_ih.shape
            x = np.ascontiguousarray(x, dtype=dt)
            T, B = idx.shape if idx is not None else x.shape[:2]
            xw = workspace.empty((T, B, G), dt)  # (T, B, G): RNN's backward reuses it for dxw
            if idx is not None:  # x is the table of a lookup: project the table, gather rows
                np.take(K.matmul(x, w_ih.T), idx.reshape(-1), axis=0, out=xw.reshape(T * B, G))
            else:
                K.matmul(x.reshape(T * B, I), w_ih.T, out=xw.reshape(T * B, G))
            b = b_hh if b_hh is not None else np.zeros(G, dt)
            if b_ih is not None and mode == "GRU":  # GRU's n gate scales b_hh by r: keep b_ih apart
                xw += b_ih
            elif b_ih is not None:  # elsewhere both biases are added once per step: fold them
                b = b + b_ih
            save = is_grad_enabled() and any(ctx.needs_input_grad)  # False: inference
            y, h_n, c_n, saved = K.forward(mode, xw.reshape(T, B, G), w_hh, b, h0, c0, lengths,
                                           reverse, overwrite_xw=True, save=save)
            ctx.save_for_backward(x, w_ih, w_hh, *saved)
            ctx.idx = idx
            ctx.opts = (mode, lengths, reverse, clip_mode, clip_value, record)
            ctx.has_bias = (b_ih is not None, b_hh is not None)
            ctx.omega = omega
            return (y, h_n, c_n) if mode == "LSTM" else (y, h_n)

    @staticmethod
    def backward(ctx, gy, gh, gc=None):
        K = _kernels()
        with K.one_thread():  # BLAS pools idle: our kernels and `matmul` split over threads
            x, w_ih, w_hh, *saved = ctx.saved_tensors
            mode, lengths, reverse, clip_mode, clip_value, record = ctx.opts
            dxw, dw_hh, db_hh, dh0, dc0, norms = K.backward(
                mode, tuple(saved), gy, gh, gc, w_hh, lengths, reverse, clip_mode, clip_value,
                record is not None)
            if record is not None:
                record(norms)
            if ctx.omega is not None and ctx.needs_input_grad[2]:  # [2]: W_hh
                from ..kernels.cpu.rnn_omega import omega_fused

                alpha, report = ctx.omega
                om, dw_om, _ = omega_fused(dxw, gy, gh, w_hh, lengths, reverse, clip_mode,
                                           clip_value)
                dw_hh += alpha * dw_om
                report(om)
            T, B, G = dxw.shape
            I = w_ih.shape[1]
            d2 = dxw.reshape(T * B, G)  # not -1: B may be 0 (empty batch)
            n = ctx.needs_input_grad
            if ctx.idx is not None:  # x is a lookup table: its rows' summed gradients
                from ..kernels.cpu.scatter import scatter_add_rows

                d_table = scatter_add_rows(x.shape[0], ctx.idx, d2) if n[0] or n[1] else None
                dx = K.matmul(d_table, w_ih) if n[0] else None
                dw_ih = K.matmul(d_table.T, x) if n[1] else None
            else:
                dx = K.matmul(d2, w_ih).reshape(T, B, I) if n[0] else None
                dw_ih = K.matmul(d2.T, x.reshape(T * B, I)) if n[1] else None
            db_ih = None
            if n[3] and ctx.has_bias[0]:  # only GRU's two biases get different gradients
                db_ih = d2.sum(axis=0) if mode == "GRU" else db_hh.copy()
            db_hh = db_hh if ctx.has_bias[1] else None
            return dx, dw_ih, dw_hh, db_ih, db_hh, dh0, dc0


def _embedding_lookup(x, w_ih):
    """``(table, idx)`` when ``x`` is an `Embedding` output (time-major (T, B, I), or the
    batch_first one transposed by the layer) that nothing observes (no hook, no retained
    gradient) and ``idx`` is (T, B); None otherwise (x is then used as it is)."""
    from ..autograd.ops_shape import Permute
    from .layers import _EmbeddingFn

    node, t = x._node, x
    if node is None or t._hooks or t._retains_grad:
        return None
    transposed = node.fn is Permute and tuple(node.ctx.axes) == (1, 0, 2)
    if transposed:
        t = node.inputs[0]
        node = t._node if t is not None else None
        if node is None or t._hooks or t._retains_grad:
            return None
    if node.fn is not _EmbeddingFn or node.freed or node.ctx.idx.ndim != 2:
        return None
    table = node.inputs[0]
    if table is None or table.dtype != w_ih.dtype or table.shape[1] != w_ih.shape[1]:
        return None
    if node.ctx.padding_idx is not None:  # its row takes no gradient: keep the lookup's node
        return None
    return table, (node.ctx.idx.T if transposed else node.ctx.idx)
