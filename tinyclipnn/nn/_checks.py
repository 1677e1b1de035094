"""Argument checks shared by the layers: each error names the layer, the argument, what was
given and what is allowed (PyTorch's wording where users search for it)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import InputError, get_default_dtype

COMPUTE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_size(owner: str, name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``; TypeError for a non-integer (bools too)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: {name} should be of type int, got: {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value}")
    return int(value)


def check_dtype(owner: str, dtype: Any) -> np.dtype:
    """The parameter dtype for ``dtype=`` (None: the default float dtype): float32 or float64."""
    if dtype is None:
        return get_default_dtype()
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{owner}: dtype={dtype!r} is not a dtype; use np.float32 or "
                        f"np.float64") from None
    if dt not in COMPUTE_DTYPES:
        raise TypeError(f"{owner}: dtype={dt} is not supported; parameters must be float32 or "
                        f"float64")
    return dt


def check_compute_dtype(module: Any, dtype: np.dtype) -> None:
    """Raise a clear TypeError when a layer's parameters (``dtype``) cannot be computed with,
    e.g. after ``module.to(np.float16)``."""
    if dtype not in COMPUTE_DTYPES:
        raise TypeError(f"{type(module).__name__}: parameters are {dtype}; layers compute in "
                        f"float32, float64 only: call .to(np.float32) (or .float()) first")


def check_float(owner: str, name: str, value: Any, low: float, high: float) -> float:
    """``value`` as a float in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{owner}: {name} should be a number, got: {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{owner}: {name} must be in [{low}, {high}], got {value}")
    return float(value)


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
