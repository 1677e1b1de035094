"""PyTorch's type promotion for binary ops, on numpy dtypes.

Categories rank bool < integer < float. A Python scalar of a higher category than the tensor
gives that category's default dtype (int64 for integers, the default float dtype for floats):
``int_tensor * 0.5`` is float32, ``bool_tensor + 1`` is int64; otherwise the scalar adopts the
tensor's dtype (``float32_tensor * 2.0`` stays float32). Between two tensors (or a tensor and
an ndarray) of different categories, the integer/bool operand is cast to the other's dtype
(``int64_tensor * float32_tensor`` is float32, where numpy would give float64); within a
category numpy's promotion is PyTorch's. True division and float-only functions (``exp``,
``sqrt``, ``mean``, ...) of integer tensors give the default float dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .dtypes import get_default_dtype

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def category(dtype: np.dtype) -> int:
    """0 bool, 1 integer, 2 float, 3 complex (anything else counts as float)."""
    return _CATEGORY.get(dtype.kind, 2)


def scalar_category(value: Any) -> int | None:
    """The category of a Python number (None for anything that is not one)."""
    if isinstance(value, (bool, np.bool_)):
        return 0
    if isinstance(value, (int, np.integer)):
        return 1
    if isinstance(value, (float, np.floating)):
        return 2
    if isinstance(value, (complex, np.complexfloating)):
        return 3
    return None


def category_default(cat: int) -> np.dtype:
    """The dtype a value of category ``cat`` gets when it wins promotion."""
    return (np.dtype(np.bool_), np.dtype(np.int64), get_default_dtype(),
            np.dtype(np.complex128))[cat]


def with_scalar(dtype: np.dtype, value: Any) -> np.dtype:
    """Result dtype of ``tensor(dtype) op value`` for a Python scalar ``value``."""
    cat = scalar_category(value)
    if cat is None or cat <= category(dtype):
        return dtype
    return category_default(cat)


def between(a: np.dtype, b: np.dtype) -> tuple[np.dtype, np.dtype]:
    """The dtypes the two operands are cast to before a binary op (unchanged within a
    category, so numpy's rules apply there)."""
    ca, cb = category(a), category(b)
    if ca == cb:
        return a, b
    return (b, b) if cb > ca else (a, a)


def floating(arr: np.ndarray) -> np.ndarray:
    """``arr`` itself when it is float (or complex), else cast to the default float dtype."""
    return arr if arr.dtype.kind in "fc" else arr.astype(get_default_dtype())
