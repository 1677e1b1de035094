"""One recurrent layer and direction, all time steps, as one autograd node (the fused path).

Forward: the input projection for every step is one matmul (``x @ W_ih.T``; ``b_ih`` is added
there for GRU, folded into the kernel's per-step bias ``b_hh + b_ih`` otherwise), then the Numba
kernel runs the recurrence and saves what BPTT needs. Large internal buffers (the projections,
saved states, their gradients) come from `kernels.runtime`, recycled between steps.
Backward: the Numba BPTT kernel (with optional per-step clipping and gradient-norm recording),
then one matmul each for ``dx``, ``dW_ih`` and ``dW_hh``. This module imports Numba, so `rnn`
imports it on first use (and runs the composed path when that fails).

An `Embedding` output fed straight in (``x = E[idx]``, or its batch_first transpose, with no
hook on it) is not multiplied by ``W_ih`` row by row: ``x @ W_ih.T`` is ``(E @ W_ih.T)[idx]``,
a (vocabulary, G) product and a gather, and backward sums the projection gradients per table
row (`kernels.cpu.scatter`) instead of two (T*B, G) products for ``dx`` and ``dW_ih``. The
table then gets its gradient from this node (the lookup's own node is left unused). Same
numbers up to float rounding; in a char LM (vocabulary 96, 2,048 tokens, G 512) it saves
three of the layer's six large products.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function, is_grad_enabled
from ..autograd.ops_shape import Permute
from ..kernels import runtime
from ..kernels.cpu import rnn as cpu_rnn
from ..kernels.cpu.rnn_omega import omega_fused
from ..kernels.cpu.scatter import scatter_add_rows
from ._rnn_direction import DirectionSpec
from .layers import _EmbeddingFn


class FusedRecurrentLayer(Function):
    """``apply(x, w_ih, w_hh, b_ih, b_hh, h0, c0, spec=DirectionSpec)`` -> ``(y, h_n[, c_n])``.

    x (T, B, I) time-major; h0, c0 (B, H) (c0 None unless the kind has a cell state); biases
    may be None. With ``spec.record``, backward calls it with the (T, B) array of ||dL/dh_t||;
    with ``spec.omega_alpha`` (a tanh / relu / sigmoid RNN), backward adds
    ``omega_alpha * dΩ/dW_hh``, Pascanu's vanishing-gradient regularizer from
    `kernels.cpu.rnn_omega`, and calls ``spec.report_omega(Ω)``.
    """

    @classmethod
    def apply(cls, x, w_ih, w_hh, b_ih, b_hh, h0, c0, *, spec: DirectionSpec):
        lookup = _embedding_lookup(x, w_ih)
        x, idx = lookup if lookup is not None else (x, None)  # table[idx]: project the table
        return super().apply(x, w_ih, w_hh, b_ih, b_hh, h0, c0, spec=spec, idx=idx)

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, h0, c0, *, spec: DirectionSpec,
                idx: np.ndarray | None = None):
        kind = spec.kind
        with cpu_rnn.one_thread():  # BLAS pools idle: our kernels and `matmul` split over threads
            dt = w_ih.dtype
            G, I = w_ih.shape
            x = np.ascontiguousarray(x, dtype=dt)
            T, B = idx.shape if idx is not None else x.shape[:2]
            xw = runtime.empty((T, B, G), dt)  # (T, B, G): RNN's backward reuses it for dxw
            if idx is not None:  # x is the table of a lookup: project the table, gather rows
                np.take(cpu_rnn.matmul(x, w_ih.T), idx.reshape(-1), axis=0,
                        out=xw.reshape(T * B, G))
            else:
                cpu_rnn.matmul(x.reshape(T * B, I), w_ih.T, out=xw.reshape(T * B, G))
            b = b_hh if b_hh is not None else np.zeros(G, dt)
            if b_ih is not None and kind.separate_biases:  # GRU's n gate scales b_hh by r
                xw += b_ih
            elif b_ih is not None:  # elsewhere both biases are added once per step: fold them
                b = b + b_ih
            save = is_grad_enabled() and any(ctx.needs_input_grad)  # False: inference
            y, h_n, c_n, saved = cpu_rnn.forward(
                kind, xw.reshape(T, B, G), w_hh, b, h0, c0, lengths=spec.lengths,
                reverse=spec.reverse, overwrite_xw=True, save=save)
            ctx.save_for_backward(x, w_ih, w_hh, *saved)
            ctx.idx, ctx.spec = idx, spec
            ctx.has_bias = (b_ih is not None, b_hh is not None)
            return (y, h_n, c_n) if kind.has_cell_state else (y, h_n)

    @staticmethod
    def backward(ctx, gy, gh, gc=None):
        spec = ctx.spec
        with cpu_rnn.one_thread():  # BLAS pools idle: our kernels and `matmul` split over threads
            x, w_ih, w_hh, *saved = ctx.saved_tensors
            dxw, dw_hh, db_hh, dh0, dc0, norms = cpu_rnn.backward(
                spec.kind, tuple(saved), gy, gh, gc, w_hh, lengths=spec.lengths,
                reverse=spec.reverse, clip_mode=spec.clip_mode, clip_value=spec.clip_value,
                record=spec.record is not None)
            if spec.record is not None:
                spec.record(norms)
            n = ctx.needs_input_grad  # x, w_ih, w_hh, b_ih, b_hh, h0, c0
            if spec.omega_alpha and n[2]:
                omega, dw_omega, _ = omega_fused(dxw, gy, gh, w_hh, spec.lengths, spec.reverse,
                                                 spec.clip_mode, spec.clip_value)
                dw_hh += spec.omega_alpha * dw_omega
                spec.report_omega(omega)
            T, B, G = dxw.shape
            I = w_ih.shape[1]
            d2 = dxw.reshape(T * B, G)  # not -1: B may be 0 (empty batch)
            if ctx.idx is not None:  # x is a lookup table: its rows' summed gradients
                d_table = scatter_add_rows(x.shape[0], ctx.idx, d2) if n[0] or n[1] else None
                dx = cpu_rnn.matmul(d_table, w_ih) if n[0] else None
                dw_ih = cpu_rnn.matmul(d_table.T, x) if n[1] else None
            else:
                dx = cpu_rnn.matmul(d2, w_ih).reshape(T, B, I) if n[0] else None
                dw_ih = cpu_rnn.matmul(d2.T, x.reshape(T * B, I)) if n[1] else None
            db_ih = None
            if n[3] and ctx.has_bias[0]:  # only GRU's two biases get different gradients
                db_ih = d2.sum(axis=0) if spec.kind.separate_biases else db_hh.copy()
            db_hh = db_hh if ctx.has_bias[1] else None
            return dx, dw_ih, dw_hh, db_ih, db_hh, dh0, dc0


def _embedding_lookup(x, w_ih):
    """``(table, idx)`` when ``x`` is an `Embedding` output (time-major (T, B, I), or the
    batch_first one transposed by the layer) that nothing observes (no hook, no retained
    gradient) and ``idx`` is (T, B); None otherwise (x is then used as it is)."""
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
