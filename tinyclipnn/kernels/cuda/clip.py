"""numba.cuda clipping backend (``backend="cuda"``): the primitive set documented in
``tinyclipnn.clip._pipeline.ClipBackend`` plus a no-host-sync global-norm clip path.

Primitives accept device arrays (numba, CuPy, PyTorch CUDA: anything with
``__cuda_array_interface__``, worked on in place without copying) or host numpy arrays (copied
over and back: for testing, not speed). Host-returning primitives (``seg_norms``,
``row_norms``, ``seg_clamp_``'s count) synchronise once to read their small result.
``col_sum`` returns a device array for device input and a numpy array for host input.

The device path (``total_norm``, ``clip_norm_``, ``clip_with_norm_``) keeps the total norm in
device memory: the scale kernel reads it there, and the caller gets ``DeviceScalar`` values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..clip_decision import EPS, NonFinite
from . import elementwise, norms
from ._arrays import as_device, is_device_array, on_device, runs
from ._config import configure
from ._runtime import cuda_module, describe
from .scalar import DeviceScalar

cuda = cuda_module()

__all__ = [
    "as_device",
    "DeviceScalar",
    "clip_norm_",
    "clip_with_norm_",
    "combine_norms_device",
    "col_sum",
    "configure",
    "describe",
    "row_norms",
    "row_scale_",
    "seg_clamp_",
    "seg_fill_",
    "seg_norms",
    "seg_norms_device",
    "seg_scale_",
    "total_norm",
]


def seg_norms(arrays: Sequence[Any], norm_type: float) -> np.ndarray:
    """p-norm of each array (all elements): host float64 ``(len(arrays),)``."""
    if not arrays:
        return np.zeros(0)
    with on_device(arrays, write_back=False) as devs:
        return norms.seg_norms_device(devs, float(norm_type)).copy_to_host()


def seg_norms_device(arrays: Sequence[Any], norm_type: float) -> Any:
    """p-norm of each array: device float64 ``(len(arrays),)`` (no host sync for device input)."""
    with on_device(arrays, write_back=False) as devs:
        return norms.seg_norms_device(devs, float(norm_type))


def seg_scale_(arrays: Sequence[Any], coefs: np.ndarray) -> None:
    """In place ``arrays[i] *= coefs[i]`` (product in float64); coefficient 1 writes nothing."""
    coefs = np.asarray(coefs, np.float64).reshape(len(arrays))
    keep = np.flatnonzero(coefs != 1.0)
    if keep.size == 0:
        return
    with on_device([arrays[i] for i in keep], write_back=True) as devs:
        dcoefs = cuda.to_device(np.ascontiguousarray(coefs[keep]))
        k = 0
        for flat, sizes in runs(devs):
            elementwise.seg_scale(flat, sizes, dcoefs[k : k + sizes.size])
            k += sizes.size


def seg_clamp_(arrays: Sequence[Any], clip_value: float) -> int:
    """In place clamp to [-clip_value, clip_value] (NaN kept); returns how many changed."""
    if not arrays:
        return 0
    c = float(np.dtype(arrays[0].dtype).type(clip_value))
    count = cuda.to_device(np.zeros(1, np.int64))
    with on_device(arrays, write_back=True) as devs:
        for flat, _ in runs(devs):
            elementwise.clamp(flat, c, count)
    return int(count.copy_to_host()[0])


def seg_fill_(arrays: Sequence[Any], value: float) -> None:
    """In place fill every element with ``value``."""
    with on_device(arrays, write_back=True) as devs:
        for flat, _ in runs(devs):
            elementwise.fill(flat, value)


def row_norms(x2d: Any, norm_type: float = 2.0) -> np.ndarray:
    """p-norm of each row of a C-contiguous (rows, cols) array: host float64 (rows,)."""
    rows, cols = x2d.shape
    with on_device([x2d], write_back=False) as (flat,):
        return norms.row_norms_device(flat, rows, cols, float(norm_type)).copy_to_host()


def row_scale_(x2d: Any, coefs: np.ndarray) -> None:
    """In place ``x2d[i, :] *= coefs[i]``; rows with coefficient 1 are not written."""
    rows, cols = x2d.shape
    coefs = np.asarray(coefs, np.float64).reshape(rows)
    if not (coefs != 1.0).any():
        return
    with on_device([x2d], write_back=True) as (flat,):
        elementwise.seg_scale(flat, np.full(rows, cols, np.int64), cuda.to_device(coefs))


def col_sum(x2d: Any) -> Any:
    """Sum over rows of a (rows, cols) array, accumulated in float64: (cols,), x2d's dtype;
    a device array for device input, numpy for host input."""
    dev = is_device_array(x2d)
    d2 = as_device(x2d) if dev else cuda.to_device(np.ascontiguousarray(x2d))
    out = cuda.device_array(d2.shape[1], d2.dtype)
    elementwise.col_sum(d2, out)
    return out if dev else out.copy_to_host()


def combine_norms_device(norm_vectors: Sequence[Any], norm_type: float = 2.0) -> DeviceScalar:
    """Global p-norm of one or more device vectors of norms (e.g. one per dtype group)."""
    p = float(norm_type)
    if len(norm_vectors) == 1:
        vec = norm_vectors[0]
    else:
        vec = cuda.device_array(sum(v.size for v in norm_vectors), np.float64)
        k = 0
        for v in norm_vectors:
            if v.size:
                vec[k : k + v.size].copy_to_device(v)
            k += v.size
    return DeviceScalar(norms.combine_device(vec, p))


def total_norm(arrays: Sequence[Any], norm_type: float = 2.0) -> DeviceScalar:
    """Global p-norm of all arrays (one dtype) as one vector, left on the device."""
    return combine_norms_device([seg_norms_device(arrays, norm_type)], norm_type)


def clip_with_norm_(
    arrays: Sequence[Any],
    max_norm: float,
    total: DeviceScalar | Any,
    eps: float = EPS,
    policy: NonFinite = NonFinite.PROPAGATE,
) -> DeviceScalar:
    """Scale every array by ``min(1, max_norm / (total + eps))`` with the total read on the
    device (``total``: DeviceScalar, device array (1,) or float). ``policy``: what a
    non-finite total does (``clip_decision.NonFinite``). Returns the coefficient used."""
    if isinstance(total, DeviceScalar):
        total = total.device_array
    elif not is_device_array(total):
        total = cuda.to_device(np.array([float(total)]))
    coef = cuda.device_array(1, np.float64)
    with on_device(arrays, write_back=True) as devs:
        if not devs:
            coef.copy_to_device(np.ones(1))
        for flat, _ in runs(devs):
            elementwise.clip_scale(flat, total, max_norm, eps, policy, coef)
    return DeviceScalar(coef)


def clip_norm_(
    arrays: Sequence[Any],
    max_norm: float,
    norm_type: float = 2.0,
    eps: float = EPS,
    policy: NonFinite = NonFinite.PROPAGATE,
) -> tuple[DeviceScalar, DeviceScalar]:
    """Global-norm clip with no host synchronisation: ``(total norm, coefficient)`` as
    ``DeviceScalar`` (a device ``GradBuffer`` is 4 reduction launches + 1 scale launch)."""
    with on_device(arrays, write_back=True) as devs:
        total = total_norm(devs, norm_type)
        coef = clip_with_norm_(devs, max_norm, total, eps, policy)
    return total, coef
