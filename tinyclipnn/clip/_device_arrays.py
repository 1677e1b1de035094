"""Device (CUDA) gradients as the gather step sees them, and storage for a device
``GradBuffer``. Nothing here imports numba.cuda until a device array is actually used.

Device gradients are numba device arrays or any object with ``__cuda_array_interface__``
(CuPy arrays, PyTorch CUDA tensors); they are clipped in place with the ``cuda`` backend.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._inputs import DTYPES, F16, F32, F64, is_device_array

_DEVICE_DTYPES = (F16, F32, F64)


def dtype_of(a: Any) -> np.dtype:
    cai = getattr(a, "__cuda_array_interface__", None)
    return np.dtype(cai["typestr"]) if cai is not None else np.dtype(a.dtype)


def _contiguous_strides(shape: tuple[int, ...], itemsize: int) -> list[tuple[int, ...]]:
    c, f, acc = [], [], itemsize
    for n in reversed(shape):
        c.insert(0, acc)
        acc *= max(n, 1)
    acc = itemsize
    for n in shape:
        f.append(acc)
        acc *= max(n, 1)
    return [tuple(c), tuple(f)]


def check(a: Any, writable: bool, name: str) -> tuple[np.dtype, bool]:
    """Validate one device gradient; (dtype, C-contiguous)."""
    d = dtype_of(a)
    shape = tuple(a.shape)
    if d not in _DEVICE_DTYPES:
        raise TypeError(f"{name}: device gradients must be {DTYPES.replace('bfloat16, ', '')}, "
                        f"got dtype {d} (device array of shape {shape})")
    cai = getattr(a, "__cuda_array_interface__", None)
    if cai is not None:
        if writable and cai["data"][1]:
            raise ValueError(f"{name}: device gradient of shape {shape} is read-only")
        strides = cai.get("strides")
        ok = _contiguous_strides(shape, d.itemsize)
        if strides is not None and tuple(strides) not in ok:
            raise ValueError(f"{name}: device gradient of shape {shape} must be contiguous "
                             f"(C or Fortran order), got strides {tuple(strides)}")
        return d, strides is None or tuple(strides) == ok[0] or math.prod(shape) <= 1
    if not (a.is_c_contiguous() or a.is_f_contiguous()):
        raise ValueError(f"{name}: device gradient of shape {shape} must be contiguous")
    return d, a.is_c_contiguous()


def prepare(a: Any, writable: bool, layout: str, name: str) -> Any:
    """A device array for the kernels: ``a`` itself, or its (rows, rest) view for row layouts."""
    _, c_order = check(a, writable, name)
    if layout not in ("rows", "batch"):
        return a
    if not c_order:
        raise ValueError(f"{name}: unit-wise clipping of a device gradient needs C order, "
                         f"got a Fortran-ordered array of shape {tuple(a.shape)}")
    from ..kernels.cuda.clip import as_device

    shape = tuple(a.shape)
    if layout == "batch" and not shape:
        raise TypeError(f"{name}: per-example gradients need a leading batch axis")
    if layout == "batch" or len(shape) > 1:
        return as_device(a).reshape(shape[0], math.prod(shape[1:]))
    return as_device(a).reshape(1, math.prod(shape))


# --- storage of a device GradBuffer -------------------------------------------------------

def zeros(n: int, dtype: np.dtype) -> Any:
    """A zeroed 1-D device array (numba) of ``n`` elements."""
    from ..kernels.cuda import clip as K

    flat = K.cuda.device_array(n, dtype)
    K.seg_fill_([flat], 0.0)
    return flat


def fill(a: Any, value: float) -> None:
    """Fill a device array in place."""
    from ..kernels.cuda import clip as K

    K.seg_fill_([a], value)


def copy_into(view: Any, g: Any) -> None:
    """Copy a gradient (host ndarray or device array of the same size) into a device view."""
    from ..kernels.cuda.clip import as_device

    src = as_device(g) if is_device_array(g) else np.ascontiguousarray(g, view.dtype)
    if src.dtype != view.dtype:
        raise TypeError(f"GradBuffer: gradient dtype {src.dtype} != buffer dtype {view.dtype}")
    view.copy_to_device(src.reshape(view.shape))
