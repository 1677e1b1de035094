"""`ReduceLROnPlateau`: cut the learning rate when a watched metric stops improving."""

from __future__ import annotations

import math
import warnings
from typing import Any

from ..._validate import Integer, ListOf, OneOf, Optional, Real, check, state_error
from ..optimizer import Optimizer
from .base import (
    EPOCH,
    EPOCH_DEPRECATION_WARNING,
    LRS,
    STEP_EPOCH,
    LRScheduler,
    check_optimizer,
    per_group,
)
from .base import group_values as _group_values

_MIN_LR = Real(0)
_METRIC = Real(finite=False, nan=True)  # ``step(metrics)``; NaN is never an improvement


class ReduceLROnPlateau(LRScheduler):
    """``step(metric)`` once per epoch; after more than ``patience`` epochs without an
    improvement (by ``threshold``, relative or absolute per ``threshold_mode``; ``mode="min"``
    for a loss, ``"max"`` for an accuracy), multiply every group's lr by ``factor`` (not below
    ``min_lr``; changes smaller than ``eps`` are skipped) and wait ``cooldown`` epochs."""

    _FIELDS = {"factor": Real(0, 1, high_open=True), "default_min_lr": Optional(_MIN_LR),
               "min_lrs": ListOf(_MIN_LR), "patience": Integer(0), "cooldown": Integer(0),
               "eps": Real(0), "last_epoch": EPOCH, "_last_lr": LRS,
               "mode_worse": Real(finite=False), "mode": OneOf("min", "max"),
               "threshold": Real(), "threshold_mode": OneOf("rel", "abs"),
               "best": Real(finite=False), "cooldown_counter": Integer(0),
               "num_bad_epochs": Integer(0)}
    _PER_GROUP = ("_last_lr",)

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float | list[float] = 0, eps: float = 1e-8) -> None:
        owner = "ReduceLROnPlateau"
        self.factor = self._arg("factor", factor)  # PyTorch: "Factor should be < 1.0"
        self.optimizer = check_optimizer(owner, optimizer)
        self.min_lrs = per_group(owner, "min_lr", optimizer, min_lr, _MIN_LR)
        self.default_min_lr = None if isinstance(min_lr, (list, tuple)) else self.min_lrs[0]
        self._take(patience=patience, cooldown=cooldown, eps=eps)
        self.last_epoch = 0
        self._last_lr = _group_values(optimizer, "lr")
        self._init_is_better(self._arg("mode", mode), self._arg("threshold", threshold),
                             self._arg("threshold_mode", threshold_mode))
        self._reset()

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode

    def is_better(self, a: float, best: float) -> bool:
        if self.mode == "min":
            return a < (best * (1.0 - self.threshold) if self.threshold_mode == "rel"
                        else best - self.threshold)
        return a > (best * (self.threshold + 1.0) if self.threshold_mode == "rel"
                    else best + self.threshold)

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def step(self, metrics: Any, epoch: int | None = None) -> None:  # type: ignore[override]
        """Record this epoch's ``metrics`` (a number) and reduce the lr if it has plateaued."""
        current = check(_METRIC, metrics, "metrics", "ReduceLROnPlateau.step")
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
            epoch = check(STEP_EPOCH, epoch, "epoch", "ReduceLROnPlateau")
        self.last_epoch = epoch
        if self.is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = _group_values(self.optimizer, "lr")

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f"ReduceLROnPlateau: the optimizer has {len(groups)} param "
                                   f"groups but min_lr gave {len(self.min_lrs)}; set min_lrs")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, floor in zip(groups, self.min_lrs, strict=True):
            old = float(group["lr"])
            new = max(old * self.factor, floor)
            if old - new > self.eps:
                group["lr"] = new

    def _check_fields(self, values: dict[str, Any]) -> None:
        n = len(self.optimizer.param_groups)
        if values["default_min_lr"] is None and len(values["min_lrs"]) != n:
            raise state_error("ReduceLROnPlateau", f"state_dict['min_lrs'] has "
                                                   f"{len(values['min_lrs'])} entries but the "
                                                   f"optimizer has {n} parameter groups")

    def _apply_state(self, values: dict[str, Any]) -> None:
        super()._apply_state(values)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)
