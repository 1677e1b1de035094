"""Pascanu's vanishing-gradient regularizer Ω on the composed (``fused=False``) RNN path.

The fused path computes Ω inside `_rnn_fused` (kernel `kernels.cpu.rnn_omega`); here the same
quantity comes from the plain-numpy reference: a tensor hook on every step's h_t collects the
gradient that reached it (after any ``bptt_clip`` hook), and ``W_hh`` enters the time loop
through `OmegaInject`, an identity node whose backward runs after every step's backward (all
its consumers come first in topological order). It adds ``alpha * dΩ/dW_hh`` to the gradient
and reports Ω.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..kernels.cpu.rnn_omega_reference import omega_reference
from ._rnn_direction import DirectionSpec


class OmegaState:
    """Per-direction buffers: g_t and h_t for each step, which steps are active."""

    def __init__(self, T: int, B: int, H: int, dtype, spec: DirectionSpec) -> None:
        self.g = np.zeros((T, B, H), dtype)
        self.h = np.zeros((T, B, H), dtype)
        lens = spec.lengths
        self.valid = None if lens is None else (np.arange(T)[:, None] < lens[None, :])
        self.spec = spec

    def hook(self, t: int, h_t: np.ndarray):
        """A tensor hook for step t: store h_t now and the gradient reaching it in backward."""
        self.h[t] = h_t

        def collect(grad: np.ndarray) -> None:
            self.g[t] = grad

        return collect


class OmegaInject(Function):
    """``apply(w_hh, state=OmegaState)`` -> w_hh; backward adds ``alpha * dΩ/dW_hh``."""

    @staticmethod
    def forward(ctx, w_hh, *, state: OmegaState):
        ctx.w, ctx.state = w_hh, state
        return w_hh.copy()

    @staticmethod
    def backward(ctx, grad):
        s = ctx.state
        omega, dw, _ = omega_reference(s.g, s.h, ctx.w, s.valid, s.spec.kind.activation)
        s.spec.report_omega(omega)
        return grad + s.spec.omega_alpha * dw
