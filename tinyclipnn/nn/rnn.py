"""Sequence layers `RNN`, `LSTM`, `GRU`: PyTorch's arguments, parameters and return values.

Two interchangeable implementations of each layer and direction, chosen here once per call
(`RNNBase.forward`) and given a `DirectionSpec`:

* fused (default): the whole time loop is one autograd node backed by Numba kernels
  (`_rnn_fused.FusedRecurrentLayer`, imported on first use; without numba, one warning and
  the composed path);
* composed (``fused=False``): a Python loop over the autograd cells of `rnn_cell`, every op a
  graph node; clipping and norm recording are done there with ``register_hook``
  (`_rnn_composed`).

Both agree to float round-off on outputs and every gradient. Beyond PyTorch:

* ``lengths=`` in ``forward``: sequence b has ``lengths[b]`` valid steps; outputs past its end
  are zero, ``h_n`` is taken at its own last step and the reverse direction starts there.
* ``bptt_clip=c`` (with ``bptt_clip_mode="value"`` or ``"norm"``): during backward, the
  gradient reaching the hidden state h_t (and the LSTM cell state c_t) is clipped at every
  step, element-wise to [-c, c] (Mikolov's error clipping) or per example to norm <= c.
* ``record_grad_norms=True``: after ``backward``, ``layer.grad_norms["l0"]`` (and
  ``"l0_reverse"``, ``"l1"``, ...) is a float64 (T, B) array of ||dL/dh_t|| for each time step t
  (time-major whatever ``batch_first``; before that step's clip; 0 past a sequence's end).
  It describes the most recent forward pass that has been backpropagated.
* ``vanishing_penalty=alpha`` (`RNN` only): Pascanu et al.'s (2013) regularizer Ω against
  vanishing gradients (Eq. 10, as their code computes it; `kernels.cpu.rnn_omega_reference`):
  backward adds ``alpha * dΩ/dW_hh`` to ``weight_hh``'s gradient (dL/dh_t and h_t held
  constant) and sets ``layer.omega["l0"]`` (``"l0_reverse"``, ...) to Ω as a float.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np

from .._validate import OneOf, Optional, Real, check
from ..autograd import InputError, Tensor
from ..autograd.api import concat, stack
from ..kernels import rnn_cells
from ..kernels.rnn_cells import CellKind, cell_kind
from . import functional
from ._checks import (
    check_compute_dtype,
    check_dtype,
    check_flag,
    check_float,
    check_same_dtype,
    check_size,
    describe,
)
from ._rnn_composed import composed_direction
from ._rnn_direction import DirectionSpec
from .module import Module
from .parameter import Parameter
from .rnn_cell import check_nonlinearity, init_recurrent_

State = Tensor | tuple[Tensor, Tensor]


@functools.cache
def _fused_layer() -> type | None:
    """`FusedRecurrentLayer`, imported on first use (it imports numba); None, with one warning,
    when numba is unavailable."""
    try:
        from ._rnn_fused import FusedRecurrentLayer
    except Exception as e:  # noqa: BLE001 - numba missing or broken: run without it
        warnings.warn(f"tinyclipnn.nn: the fused RNN/LSTM/GRU kernels need numba, which is "
                      f"unavailable ({type(e).__name__}: {e}); recurrent layers use the composed "
                      "autograd path instead (same results, slower)", RuntimeWarning,
                      stacklevel=4)
        return None
    return FusedRecurrentLayer


class RNNBase(Module):
    """Shared machinery of `RNN`, `LSTM` and `GRU` (subclasses only fix the cell kind ``mode``,
    a `kernels.rnn_cells` kind or its name; ``self.mode`` is its name, as in PyTorch)."""

    vanishing_penalty = 0.0  # Pascanu's Ω weight; set by `RNN`

    def __init__(self, mode: str | CellKind, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, *, bptt_clip: float | None = None,
                 bptt_clip_mode: str = "value", record_grad_norms: bool = False,
                 fused: bool = True, dtype: Any = None) -> None:
        super().__init__()
        owner = type(self).__name__
        input_size = check_size(owner, "input_size", input_size)
        hidden_size = check_size(owner, "hidden_size", hidden_size)
        num_layers = check_size(owner, "num_layers", num_layers)
        dropout = check_float(owner, "dropout", dropout, 0.0, 1.0)
        bias, batch_first, bidirectional = (check_flag(owner, name, value) for name, value in
                                            (("bias", bias), ("batch_first", batch_first),
                                             ("bidirectional", bidirectional)))
        dt = check_dtype(owner, dtype)
        bptt_clip_mode = OneOf("value", "norm")(bptt_clip_mode, "bptt_clip_mode")
        Optional(Real(0, low_open=True, finite=False))(bptt_clip, "bptt_clip")
        self._kind = cell_kind(mode)
        self.mode, self.input_size, self.hidden_size = self._kind.mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        self.bptt_clip, self.bptt_clip_mode = bptt_clip, bptt_clip_mode
        self.record_grad_norms, self.fused = record_grad_norms, fused
        self.grad_norms: dict[str, np.ndarray] = {}
        G = self._kind.gate_count * hidden_size
        D = 2 if bidirectional else 1
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else hidden_size * D
            for suffix in self._suffixes(layer):
                setattr(self, "weight_ih" + suffix, Parameter(np.zeros((G, in_size), dt)))
                setattr(self, "weight_hh" + suffix, Parameter(np.zeros((G, hidden_size), dt)))
                if bias:
                    setattr(self, "bias_ih" + suffix, Parameter(np.zeros(G, dt)))
                    setattr(self, "bias_hh" + suffix, Parameter(np.zeros(G, dt)))
        self.reset_parameters()

    def _suffixes(self, layer: int) -> list[str]:
        return [f"_l{layer}"] + ([f"_l{layer}_reverse"] if self.bidirectional else [])

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        init_recurrent_(list(self.parameters()), self.hidden_size)

    def _weights(self, suffix: str) -> tuple:
        get = self._parameters.get
        return (get("weight_ih" + suffix), get("weight_hh" + suffix),
                get("bias_ih" + suffix), get("bias_hh" + suffix))

    # ------------------------------------------------------------------------------ forward
    def forward(self, input: Tensor, hx: State | None = None,
                lengths: Any = None) -> tuple[Tensor, State]:
        """Run the layer over a sequence.

        Parameters
        ----------
        input
            (T, B, input_size), or (B, T, input_size) with ``batch_first``, or
            (T, input_size) unbatched.
        hx
            Initial state (num_layers * D, B, H) (``(h0, c0)`` for LSTM; unbatched: no B);
            zeros when None. D = 2 if bidirectional else 1.
        lengths
            Valid steps per sequence, B integers in [0, T] (None: all T).

        Returns
        -------
        output : Tensor
            (T, B, D*H) (batch_first: (B, T, D*H)).
        h_n : Tensor or tuple of Tensor
            (num_layers*D, B, H) (LSTM: ``(h_n, c_n)``).
        """
        lstm = self._kind.has_cell_state
        check_compute_dtype(self, self.weight_ih_l0.dtype)
        x = input if isinstance(input, Tensor) else Tensor(np.asarray(input))
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise InputError(f"{type(self).__name__}: input must have {self.input_size} "
                             f"features in its last dim and 2 or 3 dims, got shape {x.shape}")
        if x.shape[1 if self.batch_first and x.ndim == 3 else 0] == 0:
            raise InputError("Expected sequence length to be larger than 0 in RNN")
        check_same_dtype(type(self).__name__, "input", x.dtype, self.weight_ih_l0.dtype)
        self._check_hx_kind(hx)
        batched = x.ndim == 3
        if not batched:
            x = x.unsqueeze(1)
            if hx is not None:
                hx = tuple(h.unsqueeze(1) for h in hx) if lstm else hx.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        T, B = x.shape[0], x.shape[1]
        h0, c0 = (hx if hx is not None else (None, None)) if lstm else (hx, None)
        self._check_state(h0, B, "hidden[0]" if lstm else "hidden", "h0")
        self._check_state(c0, B, "hidden[1]", "c0")
        for state, name in ((h0, "h0"), (c0, "c0")):
            if state is not None:
                check_same_dtype(type(self).__name__, f"hidden state {name}", state.dtype,
                                 self.weight_ih_l0.dtype)
        lens = self._lengths(lengths, T, B)
        fused_layer = _fused_layer() if self.fused else None
        D = 2 if self.bidirectional else 1
        h_n: list[Tensor] = []
        c_n: list[Tensor] = []
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(self._suffixes(layer)):
                k = layer * D + d
                init = (None if h0 is None else h0[k], None if c0 is None else c0[k])
                y, h, c = self._direction(x, suffix, init, bool(d), lens, fused_layer)
                outs.append(y)
                h_n.append(h)
                c_n.append(c)
            x = outs[0] if D == 1 else concat(outs, axis=2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = functional.dropout(x, self.dropout, True)
        hn = stack(h_n, axis=0)
        state: State = (hn, stack(c_n, axis=0)) if lstm else hn
        if not batched:
            x = x.squeeze(1)
            state = tuple(s.squeeze(1) for s in state) if lstm else state.squeeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        return x, state

    def _check_hx_kind(self, hx: Any) -> None:
        name = type(self).__name__
        if self._kind.has_cell_state:
            if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2
                                       and all(isinstance(h, Tensor) for h in hx)):
                raise InputError(f"{name}: hx must be a tuple (h_0, c_0) of two Tensors, got "
                                 f"{describe(hx)}")
        elif hx is not None and not isinstance(hx, Tensor):
            raise InputError(f"{name}: hx must be a Tensor h_0 (or None), got {describe(hx)}")

    def _check_state(self, s: Tensor | None, B: int, label: str, name: str) -> None:
        D = 2 if self.bidirectional else 1
        want = (self.num_layers * D, B, self.hidden_size)
        if s is not None and tuple(s.shape) != want:
            raise InputError(f"{type(self).__name__}: Expected {label} size {want}, got "
                             f"{list(s.shape)} ({name} must have shape (num_layers * "
                             f"num_directions, batch, hidden_size))")

    @staticmethod
    def _lengths(lengths: Any, T: int, B: int) -> np.ndarray | None:
        if lengths is None:
            return None
        raw = lengths.data if isinstance(lengths, Tensor) else lengths
        lens = np.asarray(raw).reshape(-1)
        if (lens.dtype.kind not in "iuf" or lens.shape != (B,)
                or not np.all(np.equal(np.mod(lens, 1), 0))
                or (lens.size and (lens.min() < 0 or lens.max() > T))):
            raise InputError(f"lengths must be {B} integers in [0, {T}] (one per sequence), "
                             f"got {lengths!r}")
        return lens.astype(np.int64)

    def _direction(self, x: Tensor, suffix: str, init: tuple, reverse: bool,
                   lens: np.ndarray | None, fused_layer: type | None
                   ) -> tuple[Tensor, Tensor, Tensor | None]:
        """One layer and direction over x (T, B, I) -> (y (T, B, H), h_n (B, H), c_n or None),
        by ``fused_layer`` (None: the composed path)."""
        weights = self._weights(suffix)
        B, H = x.shape[1], self.hidden_size
        h0, c0 = init
        zeros = np.zeros((B, H), weights[0].dtype)
        if self._kind.has_cell_state and c0 is None:
            c0 = zeros
        key = suffix[1:]
        spec = DirectionSpec(
            kind=self._kind, reverse=reverse, lengths=lens,
            clip_mode=self.bptt_clip_mode if self.bptt_clip is not None else None,
            clip_value=self.bptt_clip or 0.0,
            record=self._recorder(key) if self.record_grad_norms else None,
            omega_alpha=self.vanishing_penalty,
            report_omega=self._omega_reporter(key) if self.vanishing_penalty else None)
        h0 = zeros if h0 is None else h0
        if fused_layer is None:
            return composed_direction(x, weights, h0, c0, spec)
        y, h_n, *c_n = fused_layer.apply(x, *weights, h0, c0, spec=spec)
        return y, h_n, (c_n[0] if c_n else None)

    def _omega_reporter(self, key: str):
        def report(value: float) -> None:
            self.omega[key] = value

        return report

    def _recorder(self, key: str):
        self.grad_norms.pop(key, None)

        def record(norms: np.ndarray) -> None:
            self.grad_norms[key] = norms

        return record

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        for name, default in (("num_layers", 1), ("bias", True), ("batch_first", False),
                              ("dropout", 0.0), ("bidirectional", False), ("bptt_clip", None),
                              ("fused", True)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        return s


class RNN(RNNBase):
    """Elman RNN ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

    Same arguments and results as ``torch.nn.RNN`` (see `RNNBase.forward`), plus ``bptt_clip``,
    ``bptt_clip_mode``, ``record_grad_norms``, ``fused`` and ``vanishing_penalty`` (-> ``omega``;
    module docstring). ``nonlinearity``: "tanh", "relu" or, beyond PyTorch, "sigmoid" (logistic
    units, Pascanu et al. 2013's sigmoid RNN; fused and composed paths, every option above; Ω
    then uses σ'(a) = h (1 - h) where tanh uses 1 - h^2)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, *,
                 vanishing_penalty: float = 0.0, **kwargs: Any) -> None:
        kind = check_nonlinearity(nonlinearity)
        vanishing_penalty = check(Real(0), vanishing_penalty, "vanishing_penalty", "RNN")
        super().__init__(kind, input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         **kwargs)
        self.nonlinearity = nonlinearity
        self.vanishing_penalty = float(vanishing_penalty)
        self.omega: dict[str, float] = {}


class LSTM(RNNBase):
    """LSTM (gates i, f, g, o); returns ``output, (h_n, c_n)`` as ``torch.nn.LSTM``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(rnn_cells.LSTM, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, **kwargs)


class GRU(RNNBase):
    """GRU (gates r, z, n; ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``) as ``torch.nn.GRU``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(rnn_cells.GRU, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, **kwargs)
