"""``ClipReport``: what one clipping call saw and did."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


def as_norm(value: Any) -> Any:
    """A host norm as ``numpy.float64`` (a ``float`` subclass with ``.item()``, so both the
    ``float(n)`` and the PyTorch ``n.item()`` habits work); a device scalar is kept as is."""
    if isinstance(value, (float, int, np.floating, np.integer)):
        return np.float64(value)
    return value


@dataclass(frozen=True, kw_only=True)
class ClipReport:
    """One clip call's outcome (returned by callable clippers, kept as ``Optimizer.last_clip``,
    recorded by ``GradMonitor``); built by keyword.

    ``total_norm``: the norm before clipping (NaN for methods without a global norm);
    ``max_norm``: the threshold used; ``coef``: the factor the gradients were multiplied by
    (1 when untouched, NaN for element-wise or unit-wise methods); ``clipped``: whether any
    gradient changed; ``skipped``: the step should not be applied (a non-finite norm with
    ``nonfinite="skip"``, a loss-scale overflow, a ZClip spike with ``skip_update_on_spike``):
    ``Optimizer.step()`` then leaves parameters and optimizer state untouched;
    ``per_tensor_norms``: float64 (n_tensors,) when computed. ``total_norm`` is a
    ``numpy.float64`` (``float(r.total_norm)`` and ``r.total_norm.item()`` both work).
    """

    total_norm: float
    max_norm: float = math.nan
    coef: float = 1.0
    clipped: bool = False
    skipped: bool = False
    per_tensor_norms: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "total_norm", as_norm(self.total_norm))

    def __float__(self) -> float:
        return float(self.total_norm)

    def as_dict(self) -> dict[str, Any]:
        """The scalar fields as a dict (for metrics rows)."""
        return {"total_norm": self.total_norm, "max_norm": self.max_norm, "coef": self.coef,
                "clipped": self.clipped, "skipped": self.skipped}
