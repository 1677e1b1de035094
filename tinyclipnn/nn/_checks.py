"""Argument checks shared by the layers, on the rules of `tinyclipnn._validate`: each error
names the layer, the argument, what was given and the rule (``LSTM: hidden_size must be an
integer >= 1, got 0``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validate import Boolean, Integer, Real, Rule, check
from ..autograd import InputError, get_default_dtype

COMPUTE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_size(owner: str, name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``; TypeError for a non-integer (a float, a bool)."""
    return check(Integer(minimum), value, name, owner)


def check_float(owner: str, name: str, value: Any, low: float, high: float) -> float:
    """``value`` as a float in [low, high]; TypeError for a non-number (a string, a bool)."""
    return check(Real(low, high), value, name, owner)


def check_flag(owner: str, name: str, value: Any) -> bool:
    """``value``: True or False (a numpy bool too); TypeError for anything else (0, 1, "yes")."""
    return check(_FLAG, value, name, owner)


_FLAG = Boolean()


class _Dtype(Rule):
    """A parameter dtype: float32 or float64 (None: the default float dtype)."""

    text = "np.float32 or np.float64 (None: the default dtype)"

    def __call__(self, value: Any, where: str) -> np.dtype:
        if value is None:
            return get_default_dtype()
        try:
            dt = np.dtype(value)
        except TypeError:
            raise self.kind_error(value, where) from None
        if dt not in COMPUTE_DTYPES:
            raise TypeError(self._message(where, f"dtype {dt}"))
        return dt


_DTYPE = _Dtype()


def check_dtype(owner: str, dtype: Any) -> np.dtype:
    """The parameter dtype for ``dtype=``: float32 or float64 (None: the default); TypeError
    otherwise."""
    return check(_DTYPE, dtype, "dtype", owner)


def check_compute_dtype(module: Any, dtype: np.dtype) -> None:
    """Raise a clear TypeError when a layer's parameters (``dtype``) cannot be computed with,
    e.g. after ``module.to(np.float16)``."""
    if dtype not in COMPUTE_DTYPES:
        raise TypeError(f"{type(module).__name__}: parameters are {dtype}; layers compute in "
                        f"float32, float64 only: call .to(np.float32) (or .float()) first")


def describe(value: Any) -> str:
    """What was given, for an error message: ``"a tuple of 1"``, ``"ndarray"``."""
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return type(value).__name__


def check_same_dtype(owner: str, what: str, got: Any, weight: Any) -> None:
    """`InputError` (a RuntimeError, as PyTorch raises) when an input's dtype is not the
    weights': PyTorch neither casts nor promotes here, so neither do we."""
    if np.dtype(got) != np.dtype(weight):
        raise InputError(f"{owner}: {what} dtype ({np.dtype(got)}) does not match weight dtype "
                         f"({np.dtype(weight)}); convert the input with .to({np.dtype(weight)}) "
                         f"or the module with .to({np.dtype(got)})")
