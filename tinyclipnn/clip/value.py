"""Element-wise value clipping (PyTorch ``clip_grad_value_``: ``ClipGradValue``)."""

from __future__ import annotations

import math
from typing import Any

from .._validate import Boolean
from . import _checks
from ._gather import Layout
from ._pipeline import measure, prepare
from .clipper import Clipper
from .monitor import GradMonitor
from .report import ClipReport


class ClipGradValue(Clipper):
    """Clamp every gradient element to ``[-clip_value, clip_value]`` (``clip_grad_value_``);
    with ``measure_norm`` (or a monitor) the report also carries the L2 norm before clipping
    (one extra read pass)."""

    def __init__(
        self, clip_value: float, backend: str = "auto", monitor: GradMonitor | None = None,
        measure_norm: bool = False,
    ) -> None:
        self.clip_value = _checks.THRESHOLD(clip_value, "clip_value")
        self.backend, self.monitor = backend, monitor
        self.measure_norm = Boolean()(measure_norm, "measure_norm")

    def _clip(self, parameters: Any) -> ClipReport:
        per_tensor = self._per_tensor
        g, be = prepare(parameters, self.backend,
                        layout=Layout.PER_TENSOR if per_tensor else Layout.FLAT)
        total, pt = math.nan, None
        if self.measure_norm or self.monitor is not None:
            total, pt = measure(g, be, 2.0, None, per_tensor)
        changed = sum(be.clamp_(be.planned(grp), self.clip_value) for grp in g.groups)
        if g.copies:
            g.write_back()
        return ClipReport(total_norm=float(total), max_norm=self.clip_value, coef=math.nan,
                          clipped=changed > 0, per_tensor_norms=pt)


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
    ClipGradValue(clip_value, backend, monitor)(parameters)
