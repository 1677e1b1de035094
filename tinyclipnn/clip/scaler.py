"""``LossScaler``: dynamic loss scaling for float16 training (PyTorch ``GradScaler``
semantics), with a fused unscale + non-finite check + norm clip."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validate import Boolean, Integer, Real, state_error
from . import _checks
from ._agree import Agreement, agreement, relay
from ._backends import EPS, NonFinite, clip_coefficient
from ._pipeline import clip_norm, fusable, measure, norm_report, prepare
from .clipper import Clipper
from .monitor import GradMonitor
from .report import ClipReport


def _optimizer_params(obj: Any) -> Any:
    groups = getattr(obj, "param_groups", None)
    if groups is None:
        return obj
    return [p for g in groups for p in g["params"]]


GROWTH_FACTOR = Real(1, low_open=True)  # finite, > 1
BACKOFF_FACTOR = Real(0, 1, low_open=True, high_open=True)
GROWTH_INTERVAL = Integer(1)
UNSCALE = "LossScaler (unscaling)"  # group= call names: unscale (and clip), or clip only
CLIP_ONLY = "LossScaler (clipping after unscale_)"  # after an explicit unscale_


class LossScaler(Clipper):
    """Scale the loss up so small float16 gradients do not flush to zero, then unscale.

    Usage as PyTorch's ``GradScaler``::

        scaler.scale(loss).backward()
        scaler.unscale_and_clip_(params, max_norm=1.0)   # optional; else step() unscales
        scaler.step(optimizer)   # skipped (optimizer untouched) if a gradient was inf/NaN
        scaler.update()          # back off on overflow, grow after growth_interval good steps

    or as an optimizer's ``clipper=`` (``LossScaler(max_norm=1.0)``): ``optimizer.step()``
    then unscales, clips and skips the step on overflow by itself; call ``update()`` after it.

    ``unscale_and_clip_`` reads the gradients once (unscaled norm and the non-finite check
    together) and writes them once (``coef / scale`` in one pass); PyTorch needs ``unscale_``
    plus the two passes of ``clip_grad_norm_``. On overflow the gradients are left as they
    are: the step is skipped anyway.

    ``group``: a communicator for sharded gradients (as in ``clip_grad_norm_``); every rank's
    scaler must have the same settings and scale, which the ranks check with the exchange
    (all raise the same ``ValueError`` otherwise, before anything is changed).
    """

    def __init__(
        self,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        backend: str = "auto",
        monitor: GradMonitor | None = None,
        group: Any = None,
    ) -> None:
        self._scale = _checks.POSITIVE(init_scale, "init_scale")
        self.growth_factor = GROWTH_FACTOR(growth_factor, "growth_factor")
        self.backoff_factor = BACKOFF_FACTOR(backoff_factor, "backoff_factor")
        self.growth_interval = GROWTH_INTERVAL(growth_interval, "growth_interval")
        self.enabled = Boolean()(enabled, "enabled")
        self.max_norm = None if max_norm is None else _checks.THRESHOLD(max_norm, "max_norm")
        self.norm_type = _checks.norm_type(norm_type)
        self.backend, self.monitor, self.group = backend, monitor, group
        self._growth_tracker = 0
        self._found_inf: bool | None = None  # this iteration's check (None: not unscaled yet)

    # --- the PyTorch GradScaler interface -------------------------------------------------

    def scale(self, loss: Any) -> Any:
        """``loss * scale`` (a Tensor, a PyTorch tensor or a number)."""
        return loss * self._scale if self.enabled else loss

    def get_scale(self) -> float:
        return self._scale if self.enabled else 1.0

    def unscale_(self, optimizer_or_params: Any) -> None:
        """Divide the gradients by the scale in place (one read + one write pass) and record
        whether any was inf/NaN."""
        self._unscale(_optimizer_params(optimizer_or_params), None, 2.0)

    def unscale_and_clip_(self, parameters: Any, max_norm: float,
                          norm_type: float = 2.0) -> np.float64:
        """Unscale and clip to ``max_norm`` (global p-norm of the unscaled gradients) in one
        read pass and one read/write pass; returns the unscaled total norm (inf/NaN when a
        gradient overflowed: then nothing is written and the next ``step`` is skipped)."""
        try:
            max_norm = _checks.THRESHOLD(max_norm, "max_norm")
            p = _checks.norm_type(norm_type)
        except Exception as exc:
            relay(self.group, UNSCALE, exc)  # the other ranks raise too, not wait
            raise
        return self._unscale(_optimizer_params(parameters), max_norm, p).total_norm

    def step(self, optimizer: Any) -> bool:
        """``optimizer.step()`` unless a gradient was inf/NaN (unscales first if needed);
        returns whether the step was taken."""
        if not self.enabled:
            optimizer.step()
            return True
        if getattr(optimizer, "clipper", None) is self:
            optimizer.step()  # the clipper call unscales and reports the skip itself
            return not self._found_inf
        if self._found_inf is None:
            self.unscale_(optimizer)
        if self._found_inf:
            if hasattr(optimizer, "skipped_steps"):
                optimizer.skipped_steps += 1
            return False
        optimizer.step()
        return True

    def update(self, new_scale: float | None = None) -> None:
        """Back off after an overflow, grow after ``growth_interval`` clean steps."""
        if not self.enabled:
            return
        if new_scale is not None:
            self._scale = _checks.POSITIVE(new_scale, "new_scale")
        elif self._found_inf is None:
            raise RuntimeError("LossScaler.update(): no gradients were unscaled since the last "
                               "update (call step(), unscale_() or the clipper first)")
        elif self._found_inf:
            self._scale *= self.backoff_factor
            self._growth_tracker = 0
        else:
            self._growth_tracker += 1
            if self._growth_tracker == self.growth_interval:
                self._scale *= self.growth_factor
                self._growth_tracker = 0
        self._found_inf = None

    def state_dict(self) -> dict[str, Any]:
        return {"scale": self._scale, "growth_factor": self.growth_factor,
                "backoff_factor": self.backoff_factor, "growth_interval": self.growth_interval,
                "_growth_tracker": self._growth_tracker}

    _STATE = {"scale": _checks.POSITIVE, "growth_factor": GROWTH_FACTOR,
              "backoff_factor": BACKOFF_FACTOR, "growth_interval": GROWTH_INTERVAL,
              "_growth_tracker": Integer(0)}  # PyTorch GradScaler's keys

    def _set_state(self, values: dict[str, Any]) -> None:
        tracker, interval = values["_growth_tracker"], values["growth_interval"]
        if tracker >= interval:
            raise state_error("LossScaler", f"_growth_tracker must be < growth_interval "
                                            f"({interval}), got {tracker}")
        self._scale, self.growth_factor = values["scale"], values["growth_factor"]
        self.backoff_factor, self.growth_interval = values["backoff_factor"], interval
        self._growth_tracker = tracker

    # --- as a clipper ------------------------------------------------------------------------

    def _clip(self, parameters: Any) -> ClipReport:
        if self._found_inf is not None:  # already unscaled this iteration: clip only
            if self._found_inf or self.max_norm is None:
                return ClipReport(total_norm=math.nan, max_norm=math.inf,
                                  skipped=bool(self._found_inf))
            group = self._agreement(CLIP_ONLY, self.max_norm, self.norm_type)
            try:
                total, coef, _ = clip_norm(parameters, self.max_norm, self.norm_type,
                                           NonFinite.PROPAGATE, self.backend, group)
            except Exception as exc:
                relay(group, CLIP_ONLY, exc)  # the other ranks raise too, not wait
                raise
            return norm_report(total, coef, self.max_norm, NonFinite.PROPAGATE)
        return self._unscale(parameters, self.max_norm, self.norm_type)

    def _agreement(self, call: str, max_norm: float | None, p: float) -> Agreement | None:
        """With a group: what every rank must agree on, the scale and its schedule included
        (a rank with another scale would unscale its shard's share of the norm differently)."""
        return agreement(self.group, call, lambda: {
            "enabled": self.enabled, "max_norm": max_norm, "norm_type": p,
            "scale (state)": self._scale, "growth_factor": self.growth_factor,
            "backoff_factor": self.backoff_factor, "growth_interval": self.growth_interval,
            "clean steps since the last growth (state)": self._growth_tracker})

    def _unscale(self, parameters: Any, max_norm: float | None, p: float) -> ClipReport:
        inv = 1.0 / self._scale if self.enabled else 1.0
        limit = math.inf if max_norm is None else max_norm
        group = self._agreement(UNSCALE, max_norm, p)
        try:
            g, be = prepare(parameters, self.backend)
            if fusable(g, be, group):  # both passes in one call; nothing written on overflow
                total, coef = be.clip_norm_(be.planned(g.groups[0]), p, limit, EPS,
                                            NonFinite.SKIP, inv)
                if g.copies:
                    g.write_back()
                self._found_inf = not math.isfinite(total)
                return ClipReport(total_norm=total, max_norm=limit, coef=coef,
                                  clipped=coef < 1.0, skipped=self._found_inf)
            total_scaled, _ = measure(g, be, p, group)
        except Exception as exc:
            relay(group, UNSCALE, exc)  # the other ranks raise too, not wait
            raise
        total = float(total_scaled) * inv  # exact for a power-of-two scale
        found_inf = not math.isfinite(total)
        self._found_inf = found_inf
        if found_inf:
            return ClipReport(total_norm=total, max_norm=limit, skipped=True)
        coef = clip_coefficient(total, limit, EPS, NonFinite.SKIP)
        factor = coef * inv
        if factor != 1.0:
            for grp in g.groups:
                be.scale_(be.planned(grp), np.full(len(grp.arrays), factor))
            if g.copies:
                g.write_back()
        return ClipReport(total_norm=total, max_norm=limit, coef=coef, clipped=coef < 1.0)

    def __repr__(self) -> str:
        return (f"LossScaler(scale={self._scale}, growth_factor={self.growth_factor}, "
                f"backoff_factor={self.backoff_factor}, growth_interval={self.growth_interval}"
                f", max_norm={self.max_norm})")
