"""Sequence layers `RNN`, `LSTM`, `GRU`: PyTorch's arguments, parameters and return values.

Two interchangeable implementations of each layer and direction:

* fused (default): the whole time loop is one autograd node backed by Numba kernels
  (`_rnn_fused.FusedRecurrentLayer`);
* composed (``fused=False``): a Python loop over the autograd cells of `rnn_cell`, every op a
  graph node; clipping and norm recording are done there with ``register_hook``.

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

from typing import Any

import numpy as np

from ..autograd import InputError, Tensor
from ..autograd.api import concat, stack, where
from . import functional as F
from ._checks import (
    check_compute_dtype,
    check_dtype,
    check_float,
    check_same_dtype,
    check_size,
    describe,
)
from ._rnn_fused import FusedRecurrentLayer
from ._rnn_omega import OmegaInject, OmegaState
from .module import Module
from .parameter import Parameter
from .rnn_cell import CELL_FUNCTIONS, GATES, check_nonlinearity, init_recurrent_

State = Tensor | tuple[Tensor, Tensor]


class RNNBase(Module):
    """Shared machinery of `RNN`, `LSTM` and `GRU` (subclasses only fix ``mode``)."""

    vanishing_penalty = 0.0  # Pascanu's Ω weight; set by `RNN`

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
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
        dt = check_dtype(owner, dtype)
        if bptt_clip_mode not in ("value", "norm"):
            raise ValueError(f"bptt_clip_mode must be 'value' or 'norm', got {bptt_clip_mode!r}")
        if bptt_clip is not None and not bptt_clip > 0:
            raise ValueError(f"bptt_clip must be a positive number or None, got {bptt_clip!r}")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        self.bptt_clip, self.bptt_clip_mode = bptt_clip, bptt_clip_mode
        self.record_grad_norms, self.fused = record_grad_norms, fused
        self.grad_norms: dict[str, np.ndarray] = {}
        G = GATES[mode] * hidden_size
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
        lstm = self.mode == "LSTM"
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
        D = 2 if self.bidirectional else 1
        h_n: list[Tensor] = []
        c_n: list[Tensor] = []
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(self._suffixes(layer)):
                k = layer * D + d
                init = (None if h0 is None else h0[k], None if c0 is None else c0[k])
                y, h, c = self._direction(x, suffix, init, bool(d), lens)
                outs.append(y)
                h_n.append(h)
                c_n.append(c)
            x = outs[0] if D == 1 else concat(outs, axis=2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
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
        if self.mode == "LSTM":
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
                   lens: np.ndarray | None) -> tuple[Tensor, Tensor, Tensor | None]:
        """One layer and direction over x (T, B, I) -> (y (T, B, H), h_n (B, H), c_n or None)."""
        w = self._weights(suffix)
        dt = w[0].dtype
        B, H = x.shape[1], self.hidden_size
        lstm = self.mode == "LSTM"
        h0, c0 = init
        zeros = np.zeros((B, H), dt)
        if lstm and c0 is None:
            c0 = zeros
        clip = self.bptt_clip_mode if self.bptt_clip is not None else None
        key = suffix[1:]
        record = self._recorder(key) if self.record_grad_norms else None
        omega = (self.vanishing_penalty, self._omega_reporter(key)) if (
            self.vanishing_penalty) else None
        if self.fused:
            out = FusedRecurrentLayer.apply(
                x, *w, zeros if h0 is None else h0, c0 if lstm else None, mode=self.mode,
                reverse=reverse, lengths=lens, clip_mode=clip, clip_value=self.bptt_clip or 0.0,
                record=record, omega=omega)
            return out[0], out[1], (out[2] if lstm else None)
        return _composed_direction(self.mode, x, w, zeros if h0 is None else h0, c0, reverse,
                                   lens, clip, self.bptt_clip or 0.0, record, omega)

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


def _clip_hook(t: int, clip_mode: str | None, clip_value: float, norms: np.ndarray | None):
    """A tensor hook that records ||grad|| per example at step t and clips the gradient."""

    def hook(grad: np.ndarray) -> np.ndarray:
        if norms is not None:
            norms[t] = np.sqrt((grad.astype(np.float64) ** 2).sum(axis=1))
        if clip_mode == "value":
            return np.clip(grad, -clip_value, clip_value)
        if clip_mode == "norm":
            n = np.sqrt((grad.astype(np.float64) ** 2).sum(axis=1, keepdims=True))
            return (grad * np.where(n > clip_value, clip_value / np.maximum(n, 1e-300), 1.0)
                    ).astype(grad.dtype)
        return grad

    return hook


_OMEGA_ACTS = {"RNN_TANH": "tanh", "RNN_RELU": "relu", "RNN_SIGMOID": "sigmoid"}


def _composed_direction(mode: str, x: Tensor, w: tuple, h: Any, c: Any, reverse: bool,
                        lens: np.ndarray | None, clip_mode: str | None, clip_value: float,
                        record, omega=None) -> tuple[Tensor, Tensor, Tensor | None]:
    """The reference path: a Python loop over autograd cells (hooks do clipping/recording;
    ``omega=(alpha, report)`` adds Pascanu's Ω through `OmegaInject`)."""
    T, B = x.shape[0], x.shape[1]
    cell = CELL_FUNCTIONS[mode]
    om = None
    if omega is not None and w[1].requires_grad:
        om = OmegaState(T, B, w[1].shape[1], w[1].dtype, lens, _OMEGA_ACTS[mode], *omega)
        w = (w[0], OmegaInject.apply(w[1], state=om), *w[2:])
    hooks = clip_mode is not None or record is not None
    norms = np.zeros((T, B)) if record is not None else None
    if norms is not None and T:
        # the hook of step 0 in processing order runs last during backward: publish then
        first = T - 1 if reverse else 0
        inner = _clip_hook(first, clip_mode, clip_value, norms)

        def last_hook(grad: np.ndarray) -> np.ndarray:
            out = inner(grad)
            record(norms)
            return out
    ys: list[Any] = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        if mode == "LSTM":
            h_new, c_new = cell(x[t], h, c, *w)
        else:
            h_new, c_new = cell(x[t], h, *w), None
        if hooks and h_new.requires_grad:
            is_first = norms is not None and t == (T - 1 if reverse else 0)
            hk = last_hook if is_first else _clip_hook(t, clip_mode, clip_value, norms)
            h_new.register_hook(hk)
            if c_new is not None and clip_mode is not None:
                c_new.register_hook(_clip_hook(t, clip_mode, clip_value, None))
        if om is not None and h_new.requires_grad:
            h_new.register_hook(om.hook(t, h_new.data))  # after the clip hook: sees the clipped
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
        mode = check_nonlinearity(nonlinearity)
        if not (isinstance(vanishing_penalty, (int, float, np.integer, np.floating))
                and 0 <= vanishing_penalty < np.inf):
            raise ValueError(f"vanishing_penalty must be a finite number >= 0 (0: off), got "
                             f"{vanishing_penalty!r}")
        super().__init__(mode, input_size,
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
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, **kwargs)


class GRU(RNNBase):
    """GRU (gates r, z, n; ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``) as ``torch.nn.GRU``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 **kwargs: Any) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, **kwargs)
