"""Clippers: the clip functions as callable objects, ``clipper(parameters)``.

Any of them (or ``functools.partial(clip_grad_norm_, max_norm=1.0)``) can be handed to an
optimizer as ``clipper=``; the optimizer calls it on its parameter list before each step.
"""

from __future__ import annotations

from typing import Any

from . import _checks
from .agc import adaptive_clip_grad_
from .monitor import GradMonitor
from .norm import clip_grad_norm_, clip_grad_norm_per_tensor_
from .value import clip_grad_value_


class Clipper:
    """Base class: ``__call__(parameters)`` clips in place and returns what the function does."""

    backend: str = "auto"
    monitor: GradMonitor | None = None

    def __call__(self, parameters: Any) -> Any:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """State to checkpoint (stateless clippers have none)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()`` output."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class ClipGradNorm(Clipper):
    """``clip_grad_norm_(parameters, max_norm, norm_type, nonfinite=...)``; returns the norm."""

    _clip = staticmethod(clip_grad_norm_)

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

    def __call__(self, parameters: Any) -> Any:
        return self._clip(
            parameters,
            self.max_norm,
            self.norm_type,
            nonfinite=self.nonfinite,
            backend=self.backend,
            monitor=self.monitor,
        )


class ClipGradValue(Clipper):
    """``clip_grad_value_(parameters, clip_value)``."""

    def __init__(
        self, clip_value: float, backend: str = "auto", monitor: GradMonitor | None = None
    ) -> None:
        self.clip_value = _checks.threshold("clip_value", clip_value)
        self.backend, self.monitor = backend, monitor

    def __call__(self, parameters: Any) -> None:
        clip_grad_value_(parameters, self.clip_value, backend=self.backend, monitor=self.monitor)


class ClipGradNormPerTensor(ClipGradNorm):
    """``clip_grad_norm_per_tensor_(parameters, max_norm, norm_type)``; returns the norms."""

    _clip = staticmethod(clip_grad_norm_per_tensor_)


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

    def __call__(self, parameters: Any) -> None:
        adaptive_clip_grad_(
            parameters, self.clipping, self.eps, backend=self.backend, monitor=self.monitor
        )
