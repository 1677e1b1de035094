"""Element-wise value clipping (PyTorch ``clip_grad_value_``)."""

from __future__ import annotations

import math
from typing import Any

from . import _checks
from ._gather import FLAT, PER_TENSOR
from ._pipeline import measure, prepare
from .monitor import GradMonitor
from .report import ClipReport


def value_report(parameters: Any, clip_value: float, backend: str, measure_norm: bool,
               per_tensor: bool = False) -> ClipReport:
    """Clamp in place; the report has the L2 norm before clipping when ``measure_norm``."""
    g, be = prepare(parameters, backend, layout=PER_TENSOR if per_tensor else FLAT)
    total, pt = measure(g, be, 2.0, None, per_tensor) if measure_norm else (math.nan, None)
    changed = sum(be.clamp_(grp.planned(be), clip_value) for grp in g.groups)
    g.write_back()
    return ClipReport(float(total), clip_value, math.nan, changed > 0, False, pt)


def clip_grad_value_(
    parameters: Any,
    clip_value: float,
    foreach: bool | None = None,
    *,
    backend: str = "auto",
    monitor: GradMonitor | None = None,
) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]`` in place (NaN stays NaN).
    ``foreach``: PyTorch's, accepted and meaningless here.

    With a ``monitor``, also records the L2 total norm before clipping (one extra read pass)
    and whether any element was clamped.
    """
    c = _checks.threshold("clip_value", clip_value)
    rep = value_report(parameters, c, backend, monitor is not None,
                      monitor is not None and monitor.wants_per_tensor)
    if monitor is not None:
        monitor.record(rep)

