"""How bad input is reported: `InputError` and the integer-argument check every op shares.

PyTorch reports most bad input (shapes that do not fit, a value out of range, a dtype a layer
cannot take) as ``RuntimeError``; code written for PyTorch catches that. tinyclipnn's own checks
raise ``ValueError`` for the same input. `InputError` is both, so ``except RuntimeError`` (the
PyTorch habit) and ``except ValueError`` (existing tinyclipnn code) both catch it.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np


class InputError(RuntimeError, ValueError):
    """Bad input that PyTorch rejects with ``RuntimeError`` (also a ``ValueError``)."""


def int_arg(fn: str, name: str, value: Any, minimum: int | None = None) -> int:
    """``value`` as a Python int; ``TypeError`` for anything that is not an integer (a float,
    a bool, a string); `InputError` when below ``minimum``. Worded as `tinyclipnn._validate`'s
    rules (``topk(): k must be an integer, got float 2.0``), which autograd does not import."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        try:  # 0-dim integer tensors and arrays are integers too (as in PyTorch)
            if isinstance(value, (bool, np.bool_, float, np.floating)):
                raise TypeError
            value = operator.index(value)
        except TypeError:
            shown = value.item() if isinstance(value, np.generic) else value
            raise TypeError(f"{fn}(): {name} must be an integer, got {type(value).__name__} "
                            f"{shown!r}") from None
    value = int(value)
    if minimum is not None and value < minimum:
        raise InputError(f"{fn}(): {name} must be an integer >= {minimum}, got {value}")
    return value


def dim_arg(fn: str, dim: Any, ndim: int, name: str = "dim") -> int:
    """``dim`` as an axis in ``[0, ndim)`` (negative counts from the end; a 0-dim tensor
    takes 0 and -1); ``TypeError`` for a non-integer, ``IndexError`` out of range (as PyTorch)."""
    d = int_arg(fn, name, dim)
    n = max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(f"{fn}(): Dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {d})")
    return d % n


def size_args(fn: str, sizes: tuple, name: str = "size") -> tuple[int, ...]:
    """Sizes given as ``f(2, 3)`` or ``f((2, 3))`` as a tuple of ints (each checked by
    `int_arg`; the caller checks the range)."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    return tuple(int_arg(fn, name, s) for s in sizes)
