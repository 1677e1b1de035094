"""`DirectionSpec`: how one layer and direction of `rnn.RNNBase` runs, on either path.

`rnn` builds it and hands it to the fused path (`_rnn_fused.FusedRecurrentLayer`) or the
composed one (`_rnn_composed.composed_direction`); neither looks back into `rnn`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ..kernels.rnn_cells import CellKind


class DirectionSpec(NamedTuple):
    """One direction's settings (the layer's options, resolved for this call)."""

    kind: CellKind
    reverse: bool = False
    lengths: np.ndarray | None = None  # (B,) valid steps per sequence; None: all T
    clip_mode: str | None = None  # bptt_clip: None, "value" or "norm"
    clip_value: float = 0.0
    record: Callable[[np.ndarray], None] | None = None  # gets the (T, B) ||dL/dh_t|| in backward
    omega_alpha: float = 0.0  # Pascanu's Ω weight (Elman RNN; 0: off)
    report_omega: Callable[[float], None] | None = None  # gets Ω in backward
