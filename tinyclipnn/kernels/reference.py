"""Plain-numpy reference of the clipping primitives (``backend="numpy"``).

Same functions, signatures and semantics as ``kernels.cpu.clip`` (documented in
``tinyclipnn.clip._backend``): the oracle the compiled kernels are tested against, and the
fallback when numba is unavailable. Norms accumulate in float64 and are recomputed with scaling
when the plain sum overflows or underflows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_TINY = 1e-290


def _norm(x: np.ndarray, p: float) -> float:
    """p-norm of a 1-D array, accumulated in float64."""
    if x.size == 0:
        return 0.0
    a = np.abs(x.astype(np.float64, copy=False))
    if p == np.inf:
        return float(np.max(a))
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        s = float(np.sum(a * a) if p == 2 else np.sum(a) if p == 1 else np.sum(a**p))
        if s != s or _TINY < s < np.inf:
            return _root(s, p)
        m = float(np.max(a))
        if m == 0.0 or not np.isfinite(m):
            return m
        return m * _root(float(np.sum((a / m) ** p)), p)


def _root(s: float, p: float) -> float:
    return float(np.sqrt(s)) if p == 2 else s if p == 1 else s ** (1.0 / p)


def seg_norms(arrays: Sequence[np.ndarray], norm_type: float) -> np.ndarray:
    """p-norm of each array (all elements), float64 array of shape (len(arrays),)."""
    return np.array([_norm(a.reshape(-1, order="A"), norm_type) for a in arrays], np.float64)


def seg_scale_(arrays: Sequence[np.ndarray], coefs: np.ndarray) -> None:
    """In place ``arrays[i] *= coefs[i]`` (product in float64); coefficient 1 writes nothing."""
    for a, c in zip(arrays, coefs, strict=True):
        if c != 1.0:
            with np.errstate(all="ignore"):
                a[...] = np.multiply(a, c, dtype=np.float64)  # float64 on numpy 1.x too


def seg_clamp_(arrays: Sequence[np.ndarray], clip_value: float) -> int:
    """In place clamp to [-clip_value, clip_value] (NaN kept); returns how many changed."""
    n = 0
    for a in arrays:
        c = a.dtype.type(clip_value)
        n += int(np.count_nonzero((a > c) | (a < -c)))
        np.clip(a, -c, c, out=a)
    return n


def seg_fill_(arrays: Sequence[np.ndarray], value: float) -> None:
    """In place fill every element with ``value``."""
    for a in arrays:
        a.fill(value)


def row_norms(x2d: np.ndarray, norm_type: float = 2.0) -> np.ndarray:
    """p-norm of each row of a (rows, cols) array: float64 (rows,)."""
    return np.array([_norm(r, norm_type) for r in x2d], np.float64).reshape(x2d.shape[0])


def row_scale_(x2d: np.ndarray, coefs: np.ndarray) -> None:
    """In place ``x2d[i, :] *= coefs[i]``; rows with coefficient 1 are not written."""
    rows = np.flatnonzero(np.asarray(coefs) != 1.0)
    if rows.size:
        with np.errstate(all="ignore"):
            x2d[rows] = x2d[rows] * np.asarray(coefs, np.float64)[rows, None]


def col_sum(x2d: np.ndarray) -> np.ndarray:
    """Sum over rows of a (rows, cols) array, accumulated in float64: (cols,), x2d's dtype."""
    return x2d.sum(axis=0, dtype=np.float64).astype(x2d.dtype)
