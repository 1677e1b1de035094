"""Clippers: the clip functions as callable objects, ``clipper(parameters) -> ClipReport``.

Any of them (or ``functools.partial(clip_grad_norm_, max_norm=1.0)``) can be handed to an
optimizer as ``clipper=``; the optimizer calls it on its parameter list before each step,
keeps the returned ``ClipReport`` as ``optimizer.last_clip`` and skips the step when the
report says ``skipped``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from .._validate import Boolean, Rule, check_state
from . import _checks
from ._agree import CLIP_GRAD_NORM, agreement, relay
from ._pipeline import clip_norm, report
from .agc import agc_report
from .monitor import GradMonitor
from .norm import clip_norm_per_tensor
from .report import ClipReport
from .value import value_report


class Clipper:
    """Base class: ``__call__(parameters)`` clips in place and returns a ``ClipReport``."""

    backend: str = "auto"
    monitor: GradMonitor | None = None
    _STATE: ClassVar[Mapping[str, Rule]] = {}  # state_dict() keys and each one's rule

    def __call__(self, parameters: Any) -> ClipReport:
        rep = self._clip(parameters)
        if self.monitor is not None:
            self.monitor.record(rep)
        return rep

    def _clip(self, parameters: Any) -> ClipReport:
        raise NotImplementedError

    @property
    def _per_tensor(self) -> bool:
        return self.monitor is not None and self.monitor.wants_per_tensor

    def state_dict(self) -> dict[str, Any]:
        """State to checkpoint (stateless clippers have none)."""
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore ``state_dict()`` output. Every field is checked first, with the rules the
        constructor applies (types, ranges, finiteness; a stateless clipper takes only
        ``{}``), so a bad state raises ``TypeError`` / ``ValueError`` naming the key, the
        value and the rule, and leaves the clipper exactly as it was."""
        self._set_state(check_state(type(self).__name__, state_dict, self._STATE))

    def _set_state(self, values: dict[str, Any]) -> None:
        """Take checked state values (subclasses with state; cross-field checks go here,
        before the first assignment)."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class _NormThreshold(Clipper):
    """Shared arguments of the norm clippers."""

    def __init__(
        self,
        max_norm: float,
        norm_type: float = 2.0,
        nonfinite: str | None = None,
        backend: str = "auto",
        monitor: GradMonitor | None = None,
    ) -> None:
        self.max_norm = _checks.threshold("max_norm", max_norm)
        self.norm_type = _checks.norm_type(norm_type)
        self.nonfinite = _checks.nonfinite_policy(nonfinite, False)
        self.backend, self.monitor = backend, monitor


class ClipGradNorm(_NormThreshold):
    """``clip_grad_norm_(parameters, max_norm, norm_type, nonfinite=..., group=...)``:
    ``ClipGradNorm(max_norm, norm_type=2.0, nonfinite=None, backend="auto", monitor=None,
    group=None)``. With a group, every rank's clipper must have the same settings (checked
    with the exchange, as for ``clip_grad_norm_``)."""

    def __init__(self, *args: Any, group: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group = group

    def _clip(self, parameters: Any) -> ClipReport:
        group = agreement(self.group, CLIP_GRAD_NORM, self._settings)
        try:
            total, coef, pt = clip_norm(parameters, self.max_norm, self.norm_type,
                                        self.nonfinite, self.backend, group, self._per_tensor)
        except Exception as exc:
            relay(group, CLIP_GRAD_NORM, exc)  # the other ranks raise too, not wait
            raise
        return report(total, coef, self.max_norm, self.nonfinite, pt)

    def _settings(self) -> dict[str, Any]:
        """What every rank of ``group`` must agree on (those of ``clip_grad_norm_``)."""
        return {"max_norm": self.max_norm, "norm_type": self.norm_type,
                "nonfinite": self.nonfinite}


class ClipGradValue(Clipper):
    """``clip_grad_value_(parameters, clip_value)``; with ``measure_norm`` (or a monitor) the
    report also carries the L2 norm before clipping (one extra read pass)."""

    def __init__(
        self, clip_value: float, backend: str = "auto", monitor: GradMonitor | None = None,
        measure_norm: bool = False,
    ) -> None:
        self.clip_value = _checks.threshold("clip_value", clip_value)
        self.backend, self.monitor = backend, monitor
        self.measure_norm = Boolean()(measure_norm, "measure_norm")

    def _clip(self, parameters: Any) -> ClipReport:
        return value_report(parameters, self.clip_value, self.backend,
                            self.measure_norm or self.monitor is not None, self._per_tensor)


class ClipGradNormPerTensor(_NormThreshold):
    """``clip_grad_norm_per_tensor_(parameters, max_norm, norm_type, nonfinite=...)``."""

    def _clip(self, parameters: Any) -> ClipReport:
        return clip_norm_per_tensor(parameters, self.max_norm, self.norm_type, self.nonfinite,
                                    self.backend)


class AdaptiveGradClip(Clipper):
    """``adaptive_clip_grad_(parameters, clipping, eps)`` (AGC)."""

    def __init__(
        self,
        clipping: float = 0.01,
        eps: float = 1e-3,
        backend: str = "auto",
        monitor: GradMonitor | None = None,
    ) -> None:
        self.clipping = _checks.positive("clipping", clipping)
        self.eps = _checks.threshold("eps", eps)
        self.backend, self.monitor = backend, monitor

    def _clip(self, parameters: Any) -> ClipReport:
        return agc_report(parameters, self.clipping, self.eps, self.backend)

