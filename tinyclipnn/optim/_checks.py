"""Hyper-parameter checks run when an optimizer is built (not at its first ``step``), with
PyTorch's wording ("Invalid learning rate: -1.0") plus the argument's name."""

from __future__ import annotations

from typing import Any

import numpy as np

_LABELS = {"lr": "learning rate", "eps": "epsilon value", "momentum": "momentum value",
           "weight_decay": "weight_decay value", "dampening": "dampening value",
           "alpha": "alpha value", "lr_decay": "lr_decay value",
           "initial_accumulator_value": "initial_accumulator_value"}


def check_number(name: str, value: Any, low: float = 0.0) -> float:
    """``value`` as a float >= ``low``; TypeError for a non-number (a string, a bool)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not value >= low:  # also rejects NaN
        raise ValueError(f"Invalid {_LABELS.get(name, name)}: {value} ({name} must be >= {low})")
    return float(value)


def check_betas(betas: Any) -> tuple[float, float]:
    """``betas`` as two floats, each in [0, 1)."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    for i, b in enumerate(betas):
        check_number(f"betas[{i}]", b)
        if not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b} (betas[{i}] must be "
                             f"in [0, 1))")
    return float(betas[0]), float(betas[1])
