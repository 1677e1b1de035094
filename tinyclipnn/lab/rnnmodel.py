"""The small recurrent classifier/regressor the sequence demos train: a one-layer RNN/LSTM/GRU
read out by a linear layer at the last step (Pascanu et al.'s ``lastSoftmax``/``lastLinear``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn
from ..autograd import Tensor

LAYERS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


class SeqModel(nn.Module):
    """Recurrent layer (``nn.RNN`` with tanh, ``nn.LSTM`` or ``nn.GRU``; extra keyword arguments
    such as ``record_grad_norms`` or ``bptt_clip`` go to it) + linear read-out of the last
    hidden state."""

    def __init__(self, n_in: int, hidden: int, n_out: int, cell: str = "rnn",
                 **rnn_kwargs: Any) -> None:
        super().__init__()
        if cell not in LAYERS:
            raise ValueError(f"cell must be one of {', '.join(LAYERS)}; got {cell!r}")
        self.rnn = getattr(nn, LAYERS[cell])(n_in, hidden, **rnn_kwargs)
        self.head = nn.Linear(hidden, n_out)

    def forward(self, x: Any) -> Tensor:
        out, _ = self.rnn(x if isinstance(x, Tensor) else Tensor(np.asarray(x, np.float32)))
        return self.head(out[-1])

    def set_spectral_radius(self, rho: float, rng: np.random.Generator) -> None:
        """Re-draw the recurrent matrix of a tanh RNN as a Gaussian matrix scaled to spectral
        radius ``rho``."""
        w = self.rnn.weight_hh_l0
        if w.shape[0] != w.shape[1]:
            raise ValueError("set_spectral_radius applies to a plain RNN (square W_hh)")
        m = rng.standard_normal(w.shape)
        m *= rho / np.max(np.abs(np.linalg.eigvals(m)))
        w.data[...] = m.astype(w.data.dtype)
