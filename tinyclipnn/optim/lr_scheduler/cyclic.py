"""Cyclic schedules: `CosineAnnealingWarmRestarts` (SGDR) and `OneCycleLR`, as PyTorch's.
Both set the rate from the base (or max) rate, so they are not chainable (as in PyTorch)."""

from __future__ import annotations

import math
from typing import Any

from ..._validate import Boolean, Integer, ListOf, OneOf, Real, Record, check, state_error
from ..optimizer import Optimizer
from .base import FACTOR, POSITIVE, LRScheduler, check_optimizer, group_values, per_group

_LR_KEYS = OneOf("initial_lr", "max_lr", "min_lr")  # group keys a 1cycle phase runs between
_MOMENTUM_KEYS = OneOf("max_momentum", "base_momentum")
_FRACTIONAL_EPOCH = Real(0)  # SGDR's ``step(epoch)`` takes fractions of an epoch
_COUNT = Integer(1)
_FRACTION = Real(0, 1)
_FLAG = Boolean()
_PHASE = Record({"end_step": Real(), "start_lr": _LR_KEYS, "end_lr": _LR_KEYS,
                 "start_momentum": _MOMENTUM_KEYS, "end_momentum": _MOMENTUM_KEYS})


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine from ``base_lr`` down to ``eta_min`` over ``T_i`` epochs, then restart;
    ``T_0`` is the first period and each next one is ``T_mult`` times longer (Loshchilov &
    Hutter's SGDR). ``step(epoch)`` accepts fractional epochs (call it per batch)."""

    _FIELDS = {**LRScheduler._FIELDS, "T_0": _COUNT, "T_i": _COUNT, "T_mult": _COUNT,
               "eta_min": FACTOR, "T_cur": Real(-1)}

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1,  # noqa: N803
                 eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self._take(T_0=T_0, T_mult=T_mult, eta_min=eta_min)
        self.T_i = self.T_0
        self.T_cur = self._arg("last_epoch", last_epoch)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lo = self.eta_min
        return [lo + (b - lo) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for b in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        """Advance one epoch, or jump to ``epoch`` (may be fractional)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                self.T_cur %= self.T_i
                self.T_i *= self.T_mult
        else:
            epoch = check(_FRACTIONAL_EPOCH, epoch, "epoch", type(self).__name__)
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult ** n
            else:
                self.T_i, self.T_cur = self.T_0, epoch
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = group_values(self.optimizer, "lr")


class OneCycleLR(LRScheduler):
    """Smith's 1cycle policy, stepped once per batch: the rate rises from
    ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of ``total_steps``, then
    anneals to ``initial_lr / final_div_factor`` (``three_phase``: back to the initial rate
    first); momentum (SGD's ``momentum`` or Adam's beta1) cycles inversely between
    ``max_momentum`` and ``base_momentum`` when ``cycle_momentum``."""

    _FIELDS = {**LRScheduler._FIELDS, "total_steps": _COUNT,
               "anneal_strategy": OneOf("cos", "linear"),
               "_schedule_phases": ListOf(_PHASE, min_length=2, max_length=3),
               "cycle_momentum": _FLAG, "use_beta1": _FLAG}

    def __init__(self, optimizer: Optimizer, max_lr: float | list[float],
                 total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | list[float] = 0.85,
                 max_momentum: float | list[float] = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        owner = "OneCycleLR"
        check_optimizer(owner, optimizer)
        if total_steps is not None:
            self.total_steps = self._arg("total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (check(_COUNT, epochs, "epochs", owner)
                                * check(_COUNT, steps_per_epoch, "steps_per_epoch", owner))
        else:
            raise ValueError("OneCycleLR: You must define either total_steps OR (epochs AND "
                             "steps_per_epoch)")
        pct_start = check(_FRACTION, pct_start, "pct_start", owner)
        self.anneal_strategy = self._arg("anneal_strategy", anneal_strategy)
        three_phase = check(_FLAG, three_phase, "three_phase", owner)
        self._schedule_phases = self._phases(pct_start, three_phase)
        max_lrs = per_group(owner, "max_lr", optimizer, max_lr, POSITIVE)
        div_factor = check(POSITIVE, div_factor, "div_factor", owner)
        final_div_factor = check(POSITIVE, final_div_factor, "final_div_factor", owner)
        self.cycle_momentum = self._arg("cycle_momentum", cycle_momentum)
        if cycle_momentum and "momentum" not in optimizer.defaults and (
                "betas" not in optimizer.defaults):
            raise ValueError("OneCycleLR: optimizer must support momentum or beta1 with "
                             "`cycle_momentum` option enabled")
        self.use_beta1 = cycle_momentum and "betas" in optimizer.defaults
        max_ms = per_group(owner, "max_momentum", optimizer, max_momentum, FACTOR)
        base_ms = per_group(owner, "base_momentum", optimizer, base_momentum, FACTOR)
        if last_epoch == -1:
            for group, top, m_max, m_base in zip(optimizer.param_groups, max_lrs, max_ms,
                                                 base_ms, strict=True):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
                if cycle_momentum:
                    if self.use_beta1:
                        group["betas"] = (m_max, *group["betas"][1:])
                    else:
                        group["momentum"] = m_max
                    group["max_momentum"], group["base_momentum"] = m_max, m_base
        super().__init__(optimizer, last_epoch)

    def _check_fields(self, values: dict[str, Any]) -> None:
        if values["use_beta1"] and not values["cycle_momentum"]:
            raise state_error("OneCycleLR", "use_beta1=True needs cycle_momentum=True")

    def _phases(self, pct: float, three_phase: bool) -> list[dict[str, Any]]:
        n = self.total_steps
        up = {"end_step": pct * n - 1, "start_lr": "initial_lr", "end_lr": "max_lr",
              "start_momentum": "max_momentum", "end_momentum": "base_momentum"}
        if not three_phase:
            return [up, {"end_step": n - 1, "start_lr": "max_lr", "end_lr": "min_lr",
                         "start_momentum": "base_momentum", "end_momentum": "max_momentum"}]
        return [up,
                {"end_step": 2 * pct * n - 2, "start_lr": "max_lr", "end_lr": "initial_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
                {"end_step": n - 1, "start_lr": "initial_lr", "end_lr": "min_lr",
                 "start_momentum": "max_momentum", "end_momentum": "max_momentum"}]

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: Tried to step {step} times. The specified number of "
                             f"total steps is {self.total_steps}")
        lrs = []
        phases = self._schedule_phases
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, ph in enumerate(phases):
                end = ph["end_step"]
                if step <= end or i == len(phases) - 1:
                    pct = (step - start) / (end - start)
                    lrs.append(self._anneal(group[ph["start_lr"]], group[ph["end_lr"]], pct))
                    if self.cycle_momentum:
                        m = self._anneal(group[ph["start_momentum"]], group[ph["end_momentum"]],
                                         pct)
                        if self.use_beta1:
                            group["betas"] = (m, *group["betas"][1:])
                        else:
                            group["momentum"] = m
                    break
                start = end
        return lrs

