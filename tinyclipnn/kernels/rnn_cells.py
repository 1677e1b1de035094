"""The recurrent cell kinds, one table read by `nn` (parameter shapes, cells) and the kernels.

A kind is PyTorch's ``mode`` string with its gates, named in the order of their rows in
``weight_ih`` / ``weight_hh`` (each gate takes ``hidden_size`` rows):

* Elman RNN ("RNN_TANH", "RNN_RELU", and beyond PyTorch "RNN_SIGMOID": logistic units, the
  sigmoid RNN of Pascanu, Mikolov & Bengio 2013): one gate, ``h' = act(...)``;
* "LSTM": gates i, f, g, o, and a cell state c next to h;
* "GRU": gates r, z, n; its n gate scales ``W_hn h + b_hn`` by r, so ``b_ih`` and ``b_hh``
  cannot be folded into one bias.
"""

from __future__ import annotations

from dataclasses import dataclass

# The Elman activations; a kind's index here is its code in the Numba kernels.
ELMAN_ACTIVATIONS = ("tanh", "relu", "sigmoid")


@dataclass(frozen=True)
class CellKind:
    """One cell kind: ``mode``, its gate names in weight-row order, its Elman activation,
    whether its state is a pair (h, c) (LSTM) and whether its two biases stay apart (GRU)."""

    mode: str
    gates: tuple[str, ...]
    activation: str | None = None  # Elman kinds only: one of ELMAN_ACTIVATIONS
    has_cell_state: bool = False
    separate_biases: bool = False

    @property
    def gate_count(self) -> int:
        return len(self.gates)

    @property
    def activation_code(self) -> int:
        """The Elman activation as the kernels' integer code."""
        return ELMAN_ACTIVATIONS.index(self.activation)


RNN_TANH = CellKind("RNN_TANH", ("h",), "tanh")
RNN_RELU = CellKind("RNN_RELU", ("h",), "relu")
RNN_SIGMOID = CellKind("RNN_SIGMOID", ("h",), "sigmoid")
LSTM = CellKind("LSTM", ("i", "f", "g", "o"), has_cell_state=True)
GRU = CellKind("GRU", ("r", "z", "n"), separate_biases=True)

CELL_KINDS = {kind.mode: kind for kind in (RNN_TANH, RNN_RELU, RNN_SIGMOID, LSTM, GRU)}
# `nonlinearity=` of RNN / RNNCell -> its kind
ELMAN_KINDS = {kind.activation: kind for kind in CELL_KINDS.values() if kind.activation}


def cell_kind(mode: str | CellKind) -> CellKind:
    """The kind of ``mode`` (a kind passes through); ValueError for an unknown mode."""
    if isinstance(mode, CellKind):
        return mode
    if mode not in CELL_KINDS:
        raise ValueError(f"mode must be one of {sorted(CELL_KINDS)}, got {mode!r}")
    return CELL_KINDS[mode]
