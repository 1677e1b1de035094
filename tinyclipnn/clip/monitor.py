"""GradMonitor: a per-step record of what clipping saw and did."""

from __future__ import annotations

import numpy as np

from .report import ClipReport


def _column(index: int, dtype: type, doc: str) -> property:
    """A read-only attribute: field ``index`` of every recorded step, as a numpy array."""
    return property(lambda self: np.array([r[index] for r in self._rows], dtype=dtype), doc=doc)


class GradMonitor:
    """Records, per clip call: total norm, per-tensor norms, threshold, coefficient, whether it
    clipped and whether it skipped a non-finite step.

    Pass ``monitor=`` to any clip function or clipper. When ``enabled`` is False (or no monitor
    is given) nothing is computed. Per-tensor norms cost nothing extra for norm clipping (the
    kernel computes them anyway); set ``per_tensor=False`` to store less.

    Attributes (numpy arrays, one entry per recorded step): ``total_norms``, ``thresholds``,
    ``coefs`` (scale factor applied; 1 when not clipped, NaN when not a scaling method),
    ``clipped`` (bool), ``skipped`` (bool); ``per_tensor_norms`` is a list of float64 arrays.
    """

    def __init__(self, per_tensor: bool = True, enabled: bool = True,
                 keep_reports: bool = False) -> None:
        self.per_tensor = per_tensor
        self.enabled = enabled
        self.keep_reports = keep_reports
        self.reset()

    def reset(self) -> None:
        """Forget every recorded step."""
        self._rows: list[tuple[float, float, float, bool, bool]] = []
        self.per_tensor_norms: list[np.ndarray] = []
        self.reports: list[ClipReport] = []  # filled when keep_reports=True

    @property
    def wants_per_tensor(self) -> bool:
        return self.enabled and self.per_tensor

    def record(self, report: ClipReport) -> None:
        """Append one step's ``ClipReport`` (called by the clip functions)."""
        if not self.enabled:
            return
        r = report
        self._rows.append((float(r.total_norm), float(r.max_norm), float(r.coef),
                           bool(r.clipped), bool(r.skipped)))
        if self.per_tensor and r.per_tensor_norms is not None:
            self.per_tensor_norms.append(np.asarray(r.per_tensor_norms, np.float64))
        if self.keep_reports:
            self.reports.append(r)

    total_norms = _column(0, np.float64, "The total norm before clipping, per step.")
    thresholds = _column(1, np.float64, "The threshold used, per step.")
    coefs = _column(2, np.float64, "The factor applied (1: untouched, NaN: not a scaling "
                                   "method), per step.")
    clipped = _column(3, bool, "Whether any gradient changed, per step.")
    skipped = _column(4, bool, "Whether the step was to be skipped, per step.")

    def as_dict(self) -> dict[str, np.ndarray]:
        """All records as arrays; ``per_tensor_norms`` is (steps, tensors) when consistent."""
        out = {
            "total_norm": self.total_norms,
            "threshold": self.thresholds,
            "coef": self.coefs,
            "clipped": self.clipped,
            "skipped": self.skipped,
        }
        sizes = {a.size for a in self.per_tensor_norms}
        if len(sizes) == 1 and len(self.per_tensor_norms) == len(self._rows):
            out["per_tensor_norms"] = np.stack(self.per_tensor_norms)
        return out

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        n = len(self._rows)
        c = int(self.clipped.sum()) if n else 0
        return f"GradMonitor({n} steps, {c} clipped, enabled={self.enabled})"
