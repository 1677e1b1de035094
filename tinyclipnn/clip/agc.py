"""Adaptive gradient clipping, unit-wise (Brock et al. 2021, "High-Performance Large-Scale
Image Recognition Without Normalization", NFNets)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _checks
from ._gather import ROWS, entries, gather
from ._pipeline import combine_norms, prepare
from .buffer import GradBuffer
from .monitor import GradMonitor
from .report import ClipReport


def agc_report(parameters: Any, clipping: float, eps: float, backend: str) -> ClipReport:
    """AGC in place (see ``adaptive_clip_grad_``); the report's total is the L2 norm of all
    gradients before clipping."""
    if isinstance(parameters, GradBuffer):
        parameters.sync()
        parameters = parameters.params
    ents = entries(parameters)
    for e in ents:
        if isinstance(e, np.ndarray) or not hasattr(e, "data") or not hasattr(e, "grad"):
            raise TypeError("adaptive_clip_grad_ needs the parameter values: entries must have "
                            f".data and .grad; got {type(e).__name__}")
    g, be = prepare(ents, backend, layout=ROWS)
    w = gather([ents[i].data for i in g.kept], writable=False, layout=ROWS,
               name="parameters (.data)")
    if w.device != g.device:
        raise TypeError("parameters: .data and .grad must both be on the device or both in "
                        "host memory")
    grads = [a for grp in g.groups for a in grp.arrays]
    weights = {pos: a for grp in w.groups for pos, a in zip(grp.positions, grp.arrays,
                                                            strict=True)}
    order = [pos for grp in g.groups for pos in grp.positions]
    for pos, gr in zip(order, grads, strict=True):
        if tuple(weights[pos].shape) != tuple(gr.shape):
            raise ValueError(f"parameters: .data shape {tuple(weights[pos].shape)} != .grad "
                             f"shape {tuple(gr.shape)} (entry {g.kept[pos]})")
    unit_norms, clipped = [], False
    for pos, gr in zip(order, grads, strict=True):
        gn = be.row_norms(gr, 2.0)
        mx = clipping * np.maximum(be.row_norms(weights[pos], 2.0), eps)
        hit = gn > mx
        if hit.any():
            clipped = True
            be.row_scale_(gr, np.where(hit, mx / np.maximum(gn, 1e-6), 1.0))
        unit_norms.append(gn)
    g.write_back()
    total = combine_norms(np.concatenate(unit_norms), 2.0) if unit_norms else 0.0
    return ClipReport(float(total), clipping, math.nan, clipped, False)


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

    ``parameters``: objects with ``.data`` (the weights W) and ``.grad`` (G), or a GradBuffer;
    host or device (CUDA) arrays, any supported dtype.
    """
    clipping = _checks.positive("clipping", clipping)
    eps = _checks.threshold("eps", eps)
    rep = agc_report(parameters, clipping, eps, backend)
    if monitor is not None:
        monitor.record(rep)
