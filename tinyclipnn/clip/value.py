"""Element-wise value clipping (PyTorch ``clip_grad_value_``)."""

from __future__ import annotations

import math
from typing import Any

from . import _checks, _device
from ._grads import gather
from .monitor import GradMonitor
from .norm import norms_of


def clip_grad_value_(
    parameters: Any,
    clip_value: float,
    *,
    backend: str = "auto",
    monitor: GradMonitor | None = None,
) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]`` in place (NaN stays NaN).

    With a ``monitor``, also records the L2 total norm before clipping (one extra read pass)
    and whether any element was clamped.
    """
    clip_value = _checks.threshold("clip_value", clip_value)
    per_tensor = monitor is not None and monitor.wants_per_tensor
    g = gather(parameters, writable=True, per_tensor=per_tensor)
    be = _device.backend_for(backend, g.device)
    total, pt = norms_of(g, 2.0, be, per_tensor) if monitor is not None else (math.nan, None)
    changed = sum(be.seg_clamp_(arrs, clip_value) for arrs in g.groups)
    g.write_back()
    if monitor is not None:
        monitor.record(total, math.nan, changed > 0, False, clip_value, pt)
