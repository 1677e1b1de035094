"""The composed path of `rnn.RNNBase`: a Python loop over the autograd cells of `rnn_cell`.

Every op is a graph node; ``bptt_clip`` and the gradient-norm record are tensor hooks on each
step's state, and Pascanu's Ω enters through `_rnn_omega.OmegaInject`. The fused path is
tested against this one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..autograd import Tensor
from ..autograd.api import stack, where
from ..kernels.cpu.rnn_reference import clip_state_grad
from ._rnn_direction import DirectionSpec
from ._rnn_omega import OmegaInject, OmegaState
from .rnn_cell import CELL_FUNCTIONS


def _clip_hook(t: int, spec: DirectionSpec, norms: np.ndarray | None,
               then: Callable[[np.ndarray], None] | None = None):
    """A tensor hook that records ||grad|| per example at step t (into ``norms``), clips the
    gradient, then calls ``then(norms)`` when given."""

    def hook(grad: np.ndarray) -> np.ndarray:
        if norms is not None:
            norms[t] = np.sqrt((grad.astype(np.float64) ** 2).sum(axis=1))
        out = clip_state_grad(grad, spec.clip_mode, spec.clip_value)
        if then is not None:
            then(norms)
        return out

    return hook


def composed_direction(x: Tensor, w: tuple, h: Any, c: Any, spec: DirectionSpec
                       ) -> tuple[Tensor, Tensor, Tensor | None]:
    """One layer and direction over x (T, B, I) -> (y (T, B, H), h_n (B, H), c_n or None);
    ``w`` is (w_ih, w_hh, b_ih, b_hh), h and c (B, H) the initial state."""
    T, B = x.shape[0], x.shape[1]
    kind, lens, reverse = spec.kind, spec.lengths, spec.reverse
    cell = CELL_FUNCTIONS[kind]
    omega = None
    if spec.omega_alpha and w[1].requires_grad:
        omega = OmegaState(T, B, w[1].shape[1], w[1].dtype, spec)
        w = (w[0], OmegaInject.apply(w[1], state=omega), *w[2:])
    hooks = spec.clip_mode is not None or spec.record is not None
    norms = np.zeros((T, B)) if spec.record is not None else None
    first = T - 1 if reverse else 0  # its hook runs last in backward: it publishes the norms
    ys: list[Any] = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        if kind.has_cell_state:
            h_new, c_new = cell(x[t], h, c, *w)
        else:
            h_new, c_new = cell(x[t], h, *w), None
        if hooks and h_new.requires_grad:
            publish = spec.record if norms is not None and t == first else None
            h_new.register_hook(_clip_hook(t, spec, norms, publish))
            if c_new is not None and spec.clip_mode is not None:
                c_new.register_hook(_clip_hook(t, spec, None))
        if omega is not None and h_new.requires_grad:
            h_new.register_hook(omega.hook(t, h_new.data))  # after the clip hook: sees the clipped
        if lens is None:
            ys[t], h, c = h_new, h_new, c_new
        else:
            m = (t < lens)[:, None]
            ys[t] = where(m, h_new, 0.0)
            h = where(m, h_new, h)
            c = where(m, c_new, c) if c_new is not None else None
    y = stack(ys, axis=0) if T else Tensor(np.zeros((0, B, w[1].shape[1]), w[1].dtype))
    return y, h if isinstance(h, Tensor) else Tensor(h), c if c is None or isinstance(
        c, Tensor) else Tensor(c)
