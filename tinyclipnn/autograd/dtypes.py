"""The default float dtype and the rules that turn user data into arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

_default = [np.dtype(np.float32)]


def get_default_dtype() -> np.dtype:
    """The float dtype given to lists, scalars and integer data that require grad (float32)."""
    return _default[0]


def set_default_dtype(dtype: Any) -> None:
    """Set the default float dtype (``np.float32`` or ``np.float64``), as ``torch.set_default_dtype``."""
    d = np.dtype(dtype)
    if d not in (np.float32, np.float64):
        raise TypeError(f"set_default_dtype: dtype must be float32 or float64, got {d}")
    _default[0] = d


def as_array(data: Any, dtype: Any = None, requires_grad: bool = False) -> np.ndarray:
    """Turn ``data`` into an ndarray by the design's dtype rules.

    A float ndarray keeps its dtype; lists and Python scalars of floats take the default float
    dtype; integer/bool data stays integer unless it must carry a gradient (then default float).
    """
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    if isinstance(data, np.generic):
        data = np.asarray(data)
    if isinstance(data, np.ndarray):
        if requires_grad and data.dtype.kind not in "fc":
            return data.astype(get_default_dtype())
        return data
    arr = np.asarray(data)
    if arr.dtype.kind == "f" or (requires_grad and arr.dtype.kind in "iub"):
        return arr.astype(get_default_dtype())
    return arr


# PyTorch's dtype names (``tc.float32``, ``tc.long``, ...), as numpy dtypes
float16 = half = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
int8, int16, int32 = np.dtype(np.int8), np.dtype(np.int16), np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)
