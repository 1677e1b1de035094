"""Hyper-parameter and state rules of the optimizers (`tinyclipnn._validate` rules): checked
when an optimizer is built (not at its first ``step``), for every parameter group added, and
for every loaded state dict, starting with PyTorch's phrase: ``Invalid learning rate: lr must
be a finite number >= 0, got -1.0``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validate import Boolean, Optional, Real, Rule

_LABELS = {"lr": "learning rate", "eps": "epsilon value"}  # others: "Invalid {name} value"

FLAG = Boolean()
OPTIONAL_FLAG = Optional(FLAG)  # PyTorch's ``foreach``: None, True or False


def number_rule(name: str, low: float = 0.0) -> Real:
    """A finite number >= ``low`` worded as PyTorch's check of ``name``."""
    return Real(low, label=_LABELS.get(name, f"{name} value"))


def number_rules(*names: str) -> dict[str, Real]:
    """``number_rule(name)`` (finite, >= 0) for each of ``names``: most hyper-parameters."""
    return {name: number_rule(name) for name in names}


class Betas(Rule):
    """Adam's ``(beta1, beta2)``: two numbers, each in [0, 1); a tuple of floats."""

    text = "a pair (beta1, beta2) of numbers in [0, 1)"
    _EACH = tuple(Real(0, 1, high_open=True, label=f"beta parameter at index {i}")
                  for i in range(2))

    def __call__(self, value: Any, where: str) -> tuple[float, float]:
        if not isinstance(value, (tuple, list)):
            raise self.kind_error(value, where)
        if len(value) != 2:
            raise self.range_error(value, where)
        return tuple(rule(b, f"{where}[{i}]") for i, (rule, b) in
                     enumerate(zip(self._EACH, value, strict=True)))


BETAS = Betas()


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
            raise TypeError(self._message(where, f"an array of dtype {arr.dtype} (the "
                                                 f"parameter's is {p.dtype})"))
        if arr.shape != p.shape:
            raise ValueError(self._message(where, f"an array of shape {arr.shape} (the "
                                                  f"parameter's is {p.shape})"))
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(arr) if arr.dtype.kind in "fc" else np.zeros(arr.shape, bool)
            if not math.isinf(self.low) and arr.dtype.kind != "c":
                bad |= arr < self.low
        if bad.any():
            first = arr[np.unravel_index(int(np.argmax(bad)), arr.shape)] if arr.ndim else arr
            raise ValueError(self._message(where, f"{int(bad.sum())} value(s) that are not, such "
                                                  f"as {np.asarray(first).item()!r}"))
        return np.array(arr, dtype=p.dtype)
