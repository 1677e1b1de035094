"""Adaptive gradient clipping, unit-wise (Brock et al. 2021, "High-Performance Large-Scale
Image Recognition Without Normalization", NFNets): ``AdaptiveGradClip``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _checks
from ._gather import Layout, entries, gather
from ._pipeline import combine_norms, prepare
from .buffer import GradBuffer
from .clipper import Clipper
from .monitor import GradMonitor
from .report import ClipReport


class AdaptiveGradClip(Clipper):
    """AGC in place (``adaptive_clip_grad_``): for each unit u (row of a weight of shape
    (out, ...); the whole tensor for <= 1-D), ``max_u = clipping * max(||W_u||, eps)`` and,
    where ``||G_u|| > max_u``, ``G_u *= max_u / max(||G_u||, 1e-6)``. The report's total is
    the L2 norm of all gradients before clipping."""

    def __init__(
        self,
        clipping: float = 0.01,
        eps: float = 1e-3,
        backend: str = "auto",
        monitor: GradMonitor | None = None,
    ) -> None:
        self.clipping = _checks.POSITIVE(clipping, "clipping")
        self.eps = _checks.THRESHOLD(eps, "eps")
        self.backend, self.monitor = backend, monitor

    def _clip(self, parameters: Any) -> ClipReport:
        if isinstance(parameters, GradBuffer):
            parameters.sync()
            parameters = parameters.params
        ents = entries(parameters)
        for e in ents:
            if isinstance(e, np.ndarray) or not hasattr(e, "data") or not hasattr(e, "grad"):
                raise TypeError("adaptive_clip_grad_ needs the parameter values: entries must "
                                f"have .data and .grad; got {type(e).__name__}")
        g, be = prepare(ents, self.backend, layout=Layout.ROWS)
        w = gather([ents[i].data for i in g.kept], writable=False, layout=Layout.ROWS,
                   name="parameters (.data)")
        if w.device != g.device:
            raise TypeError("parameters: .data and .grad must both be on the device or both "
                            "in host memory")
        grads = [a for grp in g.groups for a in grp.arrays]
        weights = {pos: a for grp in w.groups
                   for pos, a in zip(grp.positions, grp.arrays, strict=True)}
        order = [pos for grp in g.groups for pos in grp.positions]
        for pos, gr in zip(order, grads, strict=True):
            if tuple(weights[pos].shape) != tuple(gr.shape):
                raise ValueError(f"parameters: .data shape {tuple(weights[pos].shape)} != "
                                 f".grad shape {tuple(gr.shape)} (entry {g.kept[pos]})")
        unit_norms, clipped = [], False
        for pos, gr in zip(order, grads, strict=True):
            gn = be.row_norms(gr, 2.0)
            mx = self.clipping * np.maximum(be.row_norms(weights[pos], 2.0), self.eps)
            hit = gn > mx
            if hit.any():
                clipped = True
                be.row_scale_(gr, np.where(hit, mx / np.maximum(gn, 1e-6), 1.0))
            unit_norms.append(gn)
        if g.copies:
            g.write_back()
        total = combine_norms(np.concatenate(unit_norms), 2.0) if unit_norms else 0.0
        return ClipReport(total_norm=total, max_norm=self.clipping, coef=math.nan,
                          clipped=clipped)


def adaptive_clip_grad_(
    parameters: Any,
    clipping: float = 0.01,
    eps: float = 1e-3,
    *,
    backend: str = "auto",
    monitor: GradMonitor | None = None,
) -> None:
    """AGC in place (see ``AdaptiveGradClip``).

    ``parameters``: objects with ``.data`` (the weights W) and ``.grad`` (G), or a GradBuffer;
    host or device (CUDA) arrays, any supported dtype.
    """
    AdaptiveGradClip(clipping, eps, backend, monitor)(parameters)
