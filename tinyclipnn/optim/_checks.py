"""Hyper-parameter and state rules of the optimizers: checked when an optimizer is built (not at
its first ``step``), for every parameter group added, and for every loaded state dict, with
PyTorch's wording ("Invalid learning rate: -1.0") plus the argument's name and the rule."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validate import Boolean, Real, Rule

_LABELS = {"lr": "learning rate", "eps": "epsilon value", "momentum": "momentum value",
           "weight_decay": "weight_decay value", "dampening": "dampening value",
           "alpha": "alpha value", "lr_decay": "lr_decay value",
           "initial_accumulator_value": "initial_accumulator_value"}

FLAG = Boolean()


def number_rule(name: str, low: float = 0.0) -> Real:
    """A finite number >= ``low`` worded as PyTorch's check of ``name``."""
    return Real(low, label=_LABELS.get(name, name))


def check_number(name: str, value: Any, low: float = 0.0) -> float:
    """``value`` as a float, finite and >= ``low``; TypeError for a non-number (a string, a
    bool), ValueError (PyTorch's "Invalid ...") otherwise."""
    return number_rule(name, low)(value, name)


class Betas(Rule):
    """Adam's ``(beta1, beta2)``: two numbers, each in [0, 1); a tuple of floats."""

    text = "a pair (beta1, beta2) of numbers in [0, 1)"

    def __call__(self, value: Any, where: str) -> tuple[float, float]:
        if not isinstance(value, (tuple, list)):
            raise self.kind_error(value, where)
        if len(value) != 2:
            raise self.range_error(value, where)
        return tuple(Real(0, 1, high_open=True, label=f"beta parameter at index {i}")(
            b, f"{where}[{i}]") for i, b in enumerate(value))


BETAS = Betas()


def check_betas(betas: Any) -> tuple[float, float]:
    """``betas`` as two floats, each in [0, 1)."""
    return BETAS(betas, "betas")


class StateArray(Rule):
    """A per-parameter state array (a moment, a momentum buffer): the parameter's shape,
    numbers (not bools or strings), finite and >= ``low``; returned as a copy in the
    parameter's dtype (as PyTorch casts loaded state). ``optional``: None is accepted too.
    ``bind(p)`` gives the rule for parameter ``p``."""

    def __init__(self, low: float = -math.inf, optional: bool = False, param: Any = None) -> None:
        self.low, self.optional, self.param = low, optional, param
        bound = "" if math.isinf(low) else f" >= {low:g}"
        self.text = (("None or " if optional else "")
                     + f"an array of the parameter's shape holding finite numbers{bound}")

    def bind(self, param: Any) -> StateArray:
        return StateArray(self.low, self.optional, param)

    def __call__(self, value: Any, where: str) -> Any:
        if value is None and self.optional:
            return None
        p = self.param
        if value is None or isinstance(value, (str, bytes)):
            raise self.kind_error(value, where)
        arr = np.asarray(value)
        kinds = "iufc" if p.dtype.kind == "c" else "iuf"
        if arr.dtype.kind not in kinds:
            raise TypeError(f"{where} has dtype {arr.dtype}; it must be {self.text} "
                            f"({p.dtype})")
        if arr.shape != p.shape:
            raise ValueError(f"{where} has shape {arr.shape} but its parameter has shape "
                             f"{p.shape}; it must be {self.text}")
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(arr) if arr.dtype.kind in "fc" else np.zeros(arr.shape, bool)
            if not math.isinf(self.low) and arr.dtype.kind != "c":
                bad |= arr < self.low
        if bad.any():
            first = arr[np.unravel_index(int(np.argmax(bad)), arr.shape)] if arr.ndim else arr
            raise ValueError(f"{where} must be {self.text}, got {int(bad.sum())} value(s) that "
                             f"are not, such as {np.asarray(first).item()!r}")
        return np.array(arr, dtype=p.dtype)
