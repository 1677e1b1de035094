"""Plain-numpy reference of the clipping primitives (``backend="numpy"``), and the host-side
fixed-order combine of norm partials that every backend shares.

Same functions, signatures and semantics as ``kernels.cpu.clip`` (documented in
``tinyclipnn.clip._pipeline``'s ``ClipBackend``): the oracle the compiled kernels are tested against, and the
fallback when numba is unavailable. Arrays are float16/32/64, or bfloat16 passed as its uint16
bit pattern (``halfbits_numpy``). Norms accumulate in float64 over blocks of ``NORM_BLOCK``
elements; a block whose plain sum over/underflows is recomputed scaled by its max. Scaling forms the
product in float64 and rounds it to the array's dtype (round-to-nearest-even).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .clip_decision import NonFinite, clip_coefficient, held_back
from .config import NORM_BLOCK, TINY
from .halfbits_numpy import cast_scalar, from_f64, to_f64

Partials = tuple[np.ndarray, np.ndarray, np.ndarray]  # (sums, scales, first)


def _root(s, p: float):
    return np.sqrt(s) if p == 2 else s if p == 1 or p == np.inf else s ** (1.0 / p)


def _order(a: np.ndarray) -> str:
    return "F" if a.ndim > 1 and a.flags.f_contiguous and not a.flags.c_contiguous else "C"


def _flat64(a: np.ndarray) -> np.ndarray:
    return to_f64(a.reshape(-1, order=_order(a)))


def _sums(rows: np.ndarray, p: float) -> np.ndarray:
    if p == np.inf:
        return rows.max(axis=1, initial=0.0)
    return (rows * rows if p == 2 else rows if p == 1 else rows**p).sum(axis=1)


def _block_partials(x: np.ndarray, p: float) -> tuple[np.ndarray, np.ndarray]:
    """(sums, scales) of the NORM_BLOCK-element blocks of a float64 1-D array (see
    ``seg_partials``)."""
    a = np.abs(x)
    full = a.size // NORM_BLOCK * NORM_BLOCK
    blocks = [a[:full].reshape(-1, NORM_BLOCK)] + ([a[full:].reshape(1, -1)] if a.size > full
                                                   else [])
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        sums = np.concatenate([_sums(b, p) for b in blocks])
        scales = np.zeros(sums.size)
        if p == np.inf:
            return sums, scales
        for i in np.flatnonzero(~(np.isnan(sums) | ((sums > TINY) & (sums < np.inf)))):
            row = a[i * NORM_BLOCK : (i + 1) * NORM_BLOCK]
            m = row.max()
            if 0.0 < m < np.inf:
                sums[i], scales[i] = ((row / m) ** p).sum(), m
    return sums, scales


def seg_partials(arrays: Sequence[np.ndarray], norm_type: float) -> Partials:
    """Norm partials of each array, block by block (``NORM_BLOCK`` elements from each array's
    start): float64 ``sums`` and ``scales`` (one per block, in order) and int64 ``first``
    (segment ``s`` owns blocks ``first[s]:first[s+1]``). ``scales[k] == 0``: ``sums[k] = sum |x|^p`` (or
    ``max |x|`` for p = inf); ``scales[k] = m > 0``: ``sums[k] = sum (|x|/m)^p``."""
    parts = [_block_partials(_flat64(a), norm_type) for a in arrays]
    first = np.zeros(len(parts) + 1, np.int64)
    first[1:] = np.cumsum([s.size for s, _ in parts])
    if not parts:
        return np.zeros(0), np.zeros(0), first
    return np.concatenate([s for s, _ in parts]), np.concatenate([c for _, c in parts]), first


def combine_partials(sums: np.ndarray, scales: np.ndarray, norm_type: float) -> float:
    """The p-norm from block partials, reduced strictly in order (bit-identical for the same
    concatenated partials, however they were produced). NaN wins, then inf; finite inputs whose
    sum overflows are combined scaled by the largest block norm."""
    p = norm_type
    if sums.size == 0:
        return 0.0
    if p == np.inf:
        return float(np.max(sums))  # NaN propagates
    if not scales.any():
        with np.errstate(over="ignore"):
            s = float(np.add.accumulate(sums)[-1])  # sequential: a fixed order
        if s != s or s == 0.0 or TINY < s < np.inf:
            return float(_root(s, p))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        norms = np.where(scales == 0.0, _root(sums, p), scales * _root(sums, p))
        if np.isnan(norms).any():
            return float("nan")
        m = float(norms.max())
        if m == 0.0 or m == np.inf:
            return m
        return float(m * _root(float(np.add.accumulate((norms / m) ** p)[-1]), p))


def segment_norms(partials: Partials, norm_type: float) -> np.ndarray:
    """Each segment's p-norm from ``seg_partials`` output: float64 (n_segments,)."""
    sums, scales, first = partials
    out = np.zeros(first.size - 1)
    if sums.size == 0:
        return out
    lo, hi = first[:-1], first[1:]
    full = np.flatnonzero(hi > lo)
    p = norm_type
    with np.errstate(over="ignore", invalid="ignore"):
        if p == np.inf:
            out[full] = np.maximum.reduceat(sums, lo[full])
            out[full[np.add.reduceat(np.isnan(sums), lo[full]) > 0]] = np.nan
            return out
        tot = np.add.reduceat(sums, lo[full])
        scaled = np.add.reduceat(scales != 0.0, lo[full]) > 0
    ok = ~scaled & ((tot == 0) | (tot > TINY)) & (tot < np.inf) | np.isnan(tot)
    out[full[ok]] = _root(tot[ok], p)
    for s in full[~ok]:
        out[s] = combine_partials(sums[lo[s] : hi[s]], scales[lo[s] : hi[s]], p)
    return out


def seg_norms(arrays: Sequence[np.ndarray], norm_type: float) -> np.ndarray:
    """p-norm of each array (all elements), float64 array of shape (len(arrays),)."""
    return segment_norms(seg_partials(arrays, norm_type), norm_type)


def _store(a: np.ndarray, values64: np.ndarray) -> None:
    a[...] = from_f64(values64, a.dtype).reshape(a.shape, order=_order(a))


def seg_scale_(arrays: Sequence[np.ndarray], coefs: np.ndarray) -> None:
    """In place ``arrays[i] *= coefs[i]`` (product in float64, rounded to the dtype);
    coefficient 1 writes nothing."""
    for a, c in zip(arrays, coefs, strict=True):
        if c != 1.0:
            with np.errstate(all="ignore"):
                _store(a, _flat64(a) * c)


def clip_with_norm_(arrays: Sequence[Any], max_norm: float, total: float, eps: float,
                    policy: NonFinite, unscale: float = 1.0, scale_: Callable | None = None,
                    fill_: Callable | None = None) -> float:
    """Scale ``arrays`` by ``coef * unscale`` for a known ``total`` norm, with ``coef`` from
    ``clip_decision.clip_coefficient``; a non-finite total held back by ``policy`` writes
    nothing, or zeroes for ``ZERO``. Returns ``coef``. ``scale_``/``fill_``: the kernels that
    write (default: this module's; the Numba backend passes its own)."""
    coef = clip_coefficient(total, float(max_norm), eps, policy)
    if held_back(total, policy):
        if policy == NonFinite.ZERO:
            (fill_ or seg_fill_)(arrays, 0.0)
    elif coef * unscale != 1.0:
        (scale_ or seg_scale_)(arrays, np.full(len(arrays), coef * unscale))
    return coef


def seg_clip_norm_(arrays: Sequence[np.ndarray], norm_type: float, max_norm: float,
                   eps: float, policy: NonFinite, unscale: float = 1.0) -> tuple[float, float]:
    """Global-norm clip of all arrays as one vector: ``total = ||arrays||_p * unscale``, then
    ``clip_with_norm_``. Returns ``(total, coef)``."""
    sums, scales, _ = seg_partials(arrays, norm_type)
    total = combine_partials(sums, scales, norm_type) * unscale
    return total, clip_with_norm_(arrays, max_norm, total, eps, policy, unscale)


def seg_clamp_(arrays: Sequence[np.ndarray], clip_value: float) -> int:
    """In place clamp to [-c, c] with ``c`` = clip_value rounded to the dtype (NaN kept);
    returns how many elements changed."""
    n = 0
    for a in arrays:
        c = cast_scalar(clip_value, a.dtype)
        x = _flat64(a)
        hit = (x > c) | (x < -c)
        n += int(np.count_nonzero(hit))
        if hit.any():
            _store(a, np.where(hit, np.clip(x, -c, c), x))
    return n


def seg_fill_(arrays: Sequence[np.ndarray], value: float) -> None:
    """In place fill every element with ``value`` (rounded to the dtype)."""
    for a in arrays:
        a[...] = from_f64(np.array([value]), a.dtype)[0]


def row_norms(x2d: np.ndarray, norm_type: float = 2.0) -> np.ndarray:
    """p-norm of each row of a (rows, cols) array: float64 (rows,)."""
    return seg_norms(list(x2d), norm_type).reshape(x2d.shape[0])


def row_scale_(x2d: np.ndarray, coefs: np.ndarray) -> None:
    """In place ``x2d[i, :] *= coefs[i]``; rows with coefficient 1 are not written."""
    rows = np.flatnonzero(np.asarray(coefs) != 1.0)
    if rows.size:
        with np.errstate(all="ignore"):
            x2d[rows] = from_f64(to_f64(x2d[rows]) * np.asarray(coefs, np.float64)[rows, None],
                                 x2d.dtype)


def col_sum(x2d: np.ndarray) -> np.ndarray:
    """Sum over rows of a (rows, cols) array, accumulated in float64: (cols,), x2d's dtype."""
    return from_f64(to_f64(x2d).sum(axis=0), x2d.dtype)
