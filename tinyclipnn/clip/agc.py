"""Adaptive gradient clipping, unit-wise (Brock et al. 2021, "High-Performance Large-Scale
Image Recognition Without Normalization", NFNets)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _checks
from ._backend import get_backend
from ._grads import check_array, entries, grad_of
from .buffer import GradBuffer
from .monitor import GradMonitor
from .norm import combine_norms


def _as_rows(a: np.ndarray) -> np.ndarray:
    """(units, rest) C-contiguous view (or copy): rows for >= 2-D, one unit for <= 1-D."""
    rows = a.shape[0] if a.ndim > 1 else 1
    cols = a.size // rows if rows else 0
    return np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("=")).reshape(rows, cols)


def adaptive_clip_grad_(
    parameters: Any,
    clipping: float = 0.01,
    eps: float = 1e-3,
    *,
    backend: str = "auto",
    monitor: GradMonitor | None = None,
) -> None:
    """AGC in place: for each unit u (row of a weight of shape (out, ...); the whole tensor for
    <= 1-D), ``max_u = clipping * max(||W_u||, eps)`` and, where ``||G_u|| > max_u``,
    ``G_u *= max_u / max(||G_u||, 1e-6)``.

    ``parameters``: objects with ``.data`` (the weights W) and ``.grad`` (G), or a GradBuffer.
    """
    clipping = _checks.positive("clipping", clipping)
    eps = _checks.threshold("eps", eps)
    be = get_backend(backend)
    if isinstance(parameters, GradBuffer):
        parameters.sync()
        parameters = parameters.params
    pairs = []
    for e in entries(parameters):
        w = getattr(e, "data", None)
        if not isinstance(w, np.ndarray) or isinstance(e, np.ndarray):
            raise TypeError(
                "adaptive_clip_grad_ needs the parameter values: entries must have .data "
                f"(ndarray) and .grad; got {type(e).__name__}"
            )
        g = grad_of(e)
        if g is None:
            continue
        check_array(g, True)
        check_array(w, False, "parameters (.data)")
        if w.shape != g.shape:
            raise ValueError(f"parameters: .data shape {w.shape} != .grad shape {g.shape}")
        pairs.append((w, g))
    unit_norms, clipped = [], False
    for w, g in pairs:
        g2 = _as_rows(g)
        gn = be.row_norms(g2)
        mx = clipping * np.maximum(be.row_norms(_as_rows(w)), eps)
        hit = gn > mx
        if hit.any():
            clipped = True
            be.row_scale_(g2, np.where(hit, mx / np.maximum(gn, 1e-6), 1.0))
            if not np.shares_memory(g2, g):
                g[...] = g2.reshape(g.shape)
        unit_norms.append(gn)
    if monitor is not None:
        total = combine_norms(np.concatenate(unit_norms), 2.0) if unit_norms else 0.0
        monitor.record(total, math.nan, clipped, False, clipping)
