"""Recurrent cells written from autograd primitives: `RNNCell`, `LSTMCell`, `GRUCell`.

These are the readable reference (one time step, every op a graph node a student can step
through) and the "composed" path of the sequence layers in `rnn.py`, which the fused Numba path
is tested against. Parameter names, shapes, gate orders and init are PyTorch's:

* ``weight_ih`` (G*H, input_size), ``weight_hh`` (G*H, H), ``bias_ih``, ``bias_hh`` (G*H,),
  all ~ U(-1/sqrt(H), 1/sqrt(H)); G and the gate order come from the cell-kind table
  `kernels.rnn_cells` (RNN 1; LSTM 4: i, f, g, o; GRU 3: r, z, n).
* LSTM: ``c' = f*c + i*g``, ``h' = o*tanh(c')``.
* GRU: ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1-z)*n + z*h``.

Beyond PyTorch (whose Elman RNN is tanh or relu): ``nonlinearity="sigmoid"``, logistic units
``h' = sigmoid(...)``, the sigmoid RNN of Pascanu, Mikolov & Bengio (2013, Fig. 7).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ..autograd import InputError, Tensor
from ..kernels import rnn_cells
from ..kernels.rnn_cells import ELMAN_KINDS, CellKind
from . import init
from ._checks import check_compute_dtype, check_dtype, check_same_dtype, check_size, describe
from .functional import linear
from .module import Module
from .parameter import Parameter

# ---------------------------------------------------------------------------- functional cells
_ACTIVATE = {"tanh": lambda a: a.tanh(), "relu": lambda a: a.relu(),
             "sigmoid": lambda a: a.sigmoid()}


def elman_cell(x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
               b_hh: Tensor | None = None, activation: str = "tanh") -> Tensor:
    """``h' = act(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)``, act "tanh", "relu" or "sigmoid"
    (logistic units; not in PyTorch); x (B, I), h (B, H) -> (B, H)."""
    return _ACTIVATE[activation](linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh))


def check_nonlinearity(nonlinearity: Any) -> CellKind:
    """The cell kind of an Elman ``nonlinearity`` ("tanh", "relu" or our "sigmoid")."""
    if not isinstance(nonlinearity, str) or nonlinearity not in ELMAN_KINDS:
        raise ValueError(f"nonlinearity must be 'tanh', 'relu' or 'sigmoid' (logistic units, an "
                         f"extension beyond PyTorch), got {nonlinearity!r}")
    return ELMAN_KINDS[nonlinearity]


def lstm_cell(x: Tensor, h: Tensor, c: Tensor, w_ih: Tensor, w_hh: Tensor,
              b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One LSTM step (gates i, f, g, o); x (B, I), h and c (B, H) -> (h', c')."""
    H = h.shape[-1]
    gates = linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh)
    i = gates[..., :H].sigmoid()
    f = gates[..., H:2 * H].sigmoid()
    g = gates[..., 2 * H:3 * H].tanh()
    o = gates[..., 3 * H:].sigmoid()
    c_new = f * c + i * g
    return o * c_new.tanh(), c_new


def gru_cell(x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
             b_hh: Tensor | None = None) -> Tensor:
    """One GRU step (gates r, z, n; r multiplies ``W_hn h + b_hn``); x (B, I), h (B, H) -> h'."""
    H = h.shape[-1]
    gi = linear(x, w_ih, b_ih)
    gh = linear(h, w_hh, b_hh)
    r = (gi[..., :H] + gh[..., :H]).sigmoid()
    z = (gi[..., H:2 * H] + gh[..., H:2 * H]).sigmoid()
    n = (gi[..., 2 * H:] + r * gh[..., 2 * H:]).tanh()
    return (1.0 - z) * n + z * h


CELL_FUNCTIONS = {rnn_cells.LSTM: lstm_cell, rnn_cells.GRU: gru_cell} | {
    kind: functools.partial(elman_cell, activation=kind.activation) for kind in ELMAN_KINDS.values()}


def init_recurrent_(params: list[Tensor], hidden_size: int) -> None:
    """PyTorch's recurrent init: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))."""
    k = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for p in params:
        init.uniform_(p, -k, k)


# ---------------------------------------------------------------------------- cell modules
class _CellBase(Module):
    kind = rnn_cells.RNN_TANH

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype: Any = None, kind: CellKind | None = None) -> None:
        super().__init__()
        owner = type(self).__name__
        input_size = check_size(owner, "input_size", input_size)
        hidden_size = check_size(owner, "hidden_size", hidden_size)
        dt = check_dtype(owner, dtype)
        self.kind = kind or type(self).kind
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        G = self.kind.gate_count * hidden_size
        self.weight_ih = Parameter(np.zeros((G, input_size), dt))
        self.weight_hh = Parameter(np.zeros((G, hidden_size), dt))
        if bias:
            self.bias_ih = Parameter(np.zeros(G, dt))
            self.bias_hh = Parameter(np.zeros(G, dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_recurrent_([p for p in self.parameters()], self.hidden_size)

    def _weights(self) -> tuple:
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh

    def _prepare(self, x: Any, hx: Any) -> tuple[Tensor, Any, bool]:
        """Check input and state (PyTorch's messages); unbatched ones gain a batch dim."""
        name = type(self).__name__
        check_compute_dtype(self, self.weight_ih.dtype)
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x, self.weight_ih.dtype))
        if x.ndim not in (1, 2):
            raise InputError(f"{name}: Expected input to be 1D or 2D, got {x.ndim}D instead")
        if x.shape[-1] != self.input_size:
            raise InputError(f"{name}: input has inconsistent input_size: got {x.shape[-1]} "
                             f"expected {self.input_size}")
        states = self._states(hx)
        for k, h in enumerate(states):
            if h.ndim != x.ndim:
                raise InputError(f"{name}: hidden{k} must be {x.ndim}-D "
                                 f"({'batch, ' if x.ndim == 2 else ''}hidden_size) for a "
                                 f"{x.ndim}-D input, got shape {h.shape}")
            if x.ndim == 2 and h.shape[0] != x.shape[0]:
                raise InputError(f"{name}: Input batch size {x.shape[0]} doesn't match "
                                 f"hidden{k} batch size {h.shape[0]}")
            if h.shape[-1] != self.hidden_size:
                raise InputError(f"{name}: hidden{k} has inconsistent hidden_size: got "
                                 f"{h.shape[-1]}, expected {self.hidden_size}")
        check_same_dtype(name, "input", x.dtype, self.weight_ih.dtype)
        if states:
            check_same_dtype(name, "hidden state h", states[0].dtype, self.weight_ih.dtype)
        batched = x.ndim == 2
        if not batched:
            x = x.unsqueeze(0)
            states = [h.unsqueeze(0) for h in states]
        if hx is None:
            return x, None, batched
        return x, (tuple(states) if self.kind.has_cell_state else states[0]), batched

    def _states(self, hx: Any) -> list[Tensor]:
        """``hx`` as a list of state tensors (empty for None), checking its kind."""
        if hx is None:
            return []
        if self.kind.has_cell_state:
            if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise InputError(f"{type(self).__name__}: hx must be a tuple (h, c) of two "
                                 f"Tensors, got {describe(hx)}")
            return [h if isinstance(h, Tensor) else Tensor(np.asarray(h)) for h in hx]
        return [hx if isinstance(hx, Tensor) else Tensor(np.asarray(hx))]

    def _zeros(self, x: Tensor) -> Tensor:
        return Tensor(np.zeros((x.shape[0], self.hidden_size), self.weight_ih.dtype))

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    """Elman cell ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``; input (B, I) or (I,) -> h' (B, H).

    ``nonlinearity`` is "tanh", "relu" or "sigmoid" (ours, beyond PyTorch); ``hx`` defaults to
    zeros."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, dtype,
                         kind=check_nonlinearity(nonlinearity))
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + f", nonlinearity={self.nonlinearity}"

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, hx, batched = self._prepare(input, hx)
        h = CELL_FUNCTIONS[self.kind](x, self._zeros(x) if hx is None else hx, *self._weights())
        return h if batched else h.squeeze(0)


class LSTMCell(_CellBase):
    """LSTM cell; input (B, I) or (I,), ``hx = (h, c)`` each (B, H) -> ``(h', c')``."""

    kind = rnn_cells.LSTM

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
                ) -> tuple[Tensor, Tensor]:
        x, hx, batched = self._prepare(input, hx)
        h, c = (self._zeros(x), self._zeros(x)) if hx is None else hx
        h, c = lstm_cell(x, h, c, *self._weights())
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(_CellBase):
    """GRU cell; input (B, I) or (I,), hx (B, H) -> h' (B, H)."""

    kind = rnn_cells.GRU

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, hx, batched = self._prepare(input, hx)
        h = gru_cell(x, self._zeros(x) if hx is None else hx, *self._weights())
        return h if batched else h.squeeze(0)
