"""Stateful clippers whose threshold follows the history of gradient norms."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from .._validate import Boolean, Integer, ListOf, OneOf, Optional, Real, state_error
from . import _checks
from ._agree import agreement, digest, relay
from ._backends import NonFinite
from ._gather import Layout
from ._pipeline import measure, norm_report, prepare, scale_to
from .clipper import Clipper
from .monitor import GradMonitor
from .report import ClipReport

NORMS = ListOf(_checks.NONNEGATIVE)  # recorded total norms: finite, >= 0
MEAN_NORM = Optional(_checks.NONNEGATIVE)


def _float_or_none(value: Any) -> float | None:
    """A state value as a plain float (a loaded checkpoint may hold numpy scalars)."""
    return None if value is None else float(value)


class _NormClipper(Clipper):
    """Shared step: total L2 norm -> threshold (subclass) -> clip -> ``ClipReport``.

    ``group``: an mpi4py-like communicator when gradients are sharded over ranks; the norm is
    the whole model's on every rank, so the clipper's state stays identical on all ranks. The
    ranks check with the exchange that their arguments and state agree (one rank resumed from
    another checkpoint, say): all raise the same ``ValueError`` otherwise, before clipping."""

    def __init__(self, nonfinite: str | NonFinite | None, backend: str,
                 monitor: GradMonitor | None, group: Any = None) -> None:
        self.nonfinite = _checks.nonfinite_policy(nonfinite)
        self.backend, self.monitor, self.group = backend, monitor, group

    def _threshold(self, total: float) -> tuple[float, bool]:
        """(threshold, skip this step) for this step's total norm; updates the state."""
        raise NotImplementedError

    def _settings(self) -> dict[str, Any]:
        """What every rank of ``group`` must agree on: the arguments and the state that make
        the threshold (subclasses)."""
        raise NotImplementedError

    def _clip(self, parameters: Any) -> ClipReport:
        per_tensor = self._per_tensor
        name = type(self).__name__
        group = agreement(self.group, name, self._settings)
        try:
            g, be = prepare(parameters, self.backend,
                            layout=Layout.PER_TENSOR if per_tensor else Layout.FLAT)
            total, pt = measure(g, be, 2.0, group, per_tensor)
        except Exception as exc:
            relay(group, name, exc)  # the other ranks raise too, not wait
            raise
        t = float(total)  # the threshold is computed on the host (device: one sync)
        thr, skip = self._threshold(t)
        if skip:
            return ClipReport(total_norm=t, max_norm=thr, skipped=True, per_tensor_norms=pt)
        coef = scale_to(g, be, thr, total, self.nonfinite)
        return norm_report(total, coef, thr, self.nonfinite, pt)


class AutoClip(_NormClipper):
    """AutoClip (Seetharaman et al. 2020): clip to the ``percentile`` of all past total norms.

    Each call appends the current (finite) total norm to the history (a bounded deque when
    ``history`` is an int), then clips to ``np.percentile(history, percentile)`` (linear).
    """

    def __init__(
        self,
        percentile: float = 10.0,
        history: int | None = None,
        nonfinite: str | NonFinite | None = None,
        backend: str = "auto",
        monitor: GradMonitor | None = None,
        group: Any = None,
    ) -> None:
        super().__init__(nonfinite, backend, monitor, group)
        self.percentile = Real(0, 100)(percentile, "percentile")
        self.norms: deque[float] = deque(maxlen=Optional(Integer(1))(history, "history"))

    def _settings(self) -> dict[str, Any]:
        return {"percentile": self.percentile, "history": self.norms.maxlen,
                "nonfinite": self.nonfinite.name.lower(), "past norms (state)": digest(self.norms)}

    def _threshold(self, total: float) -> tuple[float, bool]:
        if math.isfinite(total):
            self.norms.append(total)
        thr = float(np.percentile(self.norms, self.percentile)) if self.norms else math.inf
        return thr, False

    _STATE = {"norms": NORMS}

    def state_dict(self) -> dict[str, Any]:
        return {"norms": list(self.norms)}

    def _set_state(self, values: dict[str, Any]) -> None:
        """(A longer saved history than ``history`` keeps its most recent norms.)"""
        self.norms.clear()
        self.norms.extend(values["norms"])


class ZClip(_NormClipper):
    """ZClip (Kumar et al. 2025): z-score spike clipping against an EMA of the total norm.

    For ``warmup_steps`` calls norms are recorded (and only ``max_norm`` applies); then mean and
    variance start as the warm-up's mean and (population) variance. Each later call computes
    ``z = (g - mu) / (sigma + eps)``; when ``z > z_thresh`` the norm is clipped to
    ``mu + z_thresh**2 * sigma / z`` (``mode="zscore"``) or to ``mu`` (``mode="mean"``). The
    EMA (factor ``alpha``) is updated with the clipped norm. ``max_norm`` is a hard cap on top.
    With ``skip_update_on_spike=True`` a spike is not clipped but reported as ``skipped`` (the
    optimizer then skips the step) and left out of the EMA.
    """

    def __init__(
        self,
        alpha: float = 0.97,
        z_thresh: float = 2.5,
        warmup_steps: int = 25,
        mode: str = "zscore",
        max_norm: float | None = None,
        eps: float = 1e-6,
        nonfinite: str | NonFinite | None = None,
        backend: str = "auto",
        monitor: GradMonitor | None = None,
        skip_update_on_spike: bool = False,
        group: Any = None,
    ) -> None:
        super().__init__(nonfinite, backend, monitor, group)
        self.skip_update_on_spike = Boolean()(skip_update_on_spike, "skip_update_on_spike")
        self.alpha = Real(0, 1, high_open=True)(alpha, "alpha")
        self.mode = OneOf("zscore", "mean")(mode, "mode")
        self.warmup_steps = Integer(1)(warmup_steps, "warmup_steps")
        self.z_thresh = _checks.POSITIVE(z_thresh, "z_thresh")
        self.max_norm = None if max_norm is None else _checks.THRESHOLD(max_norm, "max_norm")
        self.eps = _checks.THRESHOLD(eps, "eps")
        self.mean: float | None = None
        self.var: float | None = None
        self._warmup: list[float] = []

    def _settings(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "z_thresh": self.z_thresh,
                "warmup_steps": self.warmup_steps, "mode": self.mode, "max_norm": self.max_norm,
                "eps": self.eps, "nonfinite": self.nonfinite.name.lower(),
                "skip_update_on_spike": self.skip_update_on_spike,
                "EMA mean (state)": _float_or_none(self.mean),
                "EMA var (state)": _float_or_none(self.var),
                "warm-up norms (state)": digest(self._warmup)}

    def _threshold(self, total: float) -> tuple[float, bool]:
        cap = math.inf if self.max_norm is None else self.max_norm
        if not math.isfinite(total):
            return cap, False
        if self.mean is None or self.var is None:
            self._warmup.append(total)
            if len(self._warmup) >= self.warmup_steps:
                self.mean = float(np.mean(self._warmup))
                self.var = float(np.var(self._warmup))
                self._warmup = []
            return cap, False
        std = math.sqrt(self.var)
        z = (total - self.mean) / (std + self.eps)
        thr = math.inf
        if z > self.z_thresh:
            if self.skip_update_on_spike:
                return min(self.mean, cap), True
            thr = self.mean + self.z_thresh**2 * std / z if self.mode == "zscore" else self.mean
        fed = min(total, thr)
        a = self.alpha
        self.mean = a * self.mean + (1 - a) * fed
        self.var = a * self.var + (1 - a) * (fed - self.mean) ** 2
        return min(thr, cap), False

    _STATE = {"mean": MEAN_NORM, "var": Optional(_checks.NONNEGATIVE), "warmup": NORMS}

    def state_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "var": self.var, "warmup": list(self._warmup)}

    def _set_state(self, values: dict[str, Any]) -> None:
        mean, var, warmup = values["mean"], values["var"], values["warmup"]
        if (mean is None) != (var is None):
            raise state_error("ZClip", f"mean and var are both None (warming up) or both "
                                       f"numbers, got mean={mean!r} and var={var!r}")
        if mean is not None and warmup:
            raise state_error("ZClip", f"warmup must be [] once mean and var are set (the "
                                       f"warm-up is over), got {len(warmup)} norms")
        self.mean, self.var, self._warmup = mean, var, warmup
