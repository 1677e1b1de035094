"""Schedulers made of schedulers: `SequentialLR` (one after another at milestones) and
`ChainedScheduler` (all at once, their factors multiplied)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import Any

from ..._validate import Integer, Kind, ListOf, prefixed, state_error
from ..optimizer import Optimizer
from .base import EPOCH, LRS, LRScheduler, check_optimizer, group_values
from .plateau import ReduceLROnPlateau


def _check_members(owner: str, schedulers: Sequence[Any], optimizer: Optimizer) -> None:
    if len(schedulers) < 1:
        raise ValueError(f"{owner} expects at least one scheduler, but got no scheduler.")
    for i, s in enumerate(schedulers):
        if not hasattr(s, "optimizer"):
            raise TypeError(f"{owner}: schedulers[{i}] should have `optimizer` as its "
                            f"attribute (got {type(s).__name__})")
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(f"{owner} does not support `ReduceLROnPlateau` scheduler as it "
                             f"requires additional kwargs to be specified when calling `step`, "
                             f"but got one at index {i} in the given schedulers sequence.")
        if s.optimizer is not optimizer:
            raise ValueError(f"{owner} expects all schedulers to belong to the same optimizer, "
                             f"but got scheduler {type(s).__name__} at index {i} with another "
                             f"optimizer")


class _Composite(LRScheduler):
    """State dict: own attributes plus each member's state dict under ``_schedulers``."""

    _NOT_STATE = ("optimizer", "_schedulers")
    _PER_GROUP = ("_last_lr",)
    _schedulers: list[LRScheduler]

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def _checked_state(self, state_dict: Any) -> dict[str, Any]:
        """Own fields and every member's state, all checked before any is loaded."""
        owner = type(self).__name__
        inner = state_dict.get("_schedulers") if isinstance(state_dict, Mapping) else None
        if isinstance(inner, (list, tuple)) and len(inner) != len(self._schedulers):
            raise state_error(owner, f"state_dict holds {len(inner)} schedulers, this one has "
                                     f"{len(self._schedulers)}")
        values = super()._checked_state(state_dict)
        members = []
        for i, (s, saved) in enumerate(zip(self._schedulers, values["_schedulers"],
                                           strict=True)):
            try:
                members.append(s._checked_state(saved))
            except (TypeError, ValueError) as e:
                raise prefixed(f"{owner}.load_state_dict: state_dict['_schedulers'][{i}]: ",
                               e) from None
        values["_schedulers"] = members
        return values

    def _apply_state(self, values: dict[str, Any]) -> None:
        members = values.pop("_schedulers")
        super()._apply_state(values)
        for s, member in zip(self._schedulers, members, strict=True):
            s._apply_state(member)


_MEMBERS = ListOf(Kind(Mapping, "a scheduler's state dict"))
_MILESTONES = ListOf(Integer(0))


class SequentialLR(_Composite):
    """``schedulers[i]`` runs from ``milestones[i-1]`` (each restarting at its own epoch 0)."""

    _FIELDS = {"_milestones": _MILESTONES, "last_epoch": EPOCH, "_last_lr": LRS,
               "_schedulers": _MEMBERS}

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler],
                 milestones: Sequence[int], last_epoch: int = -1) -> None:
        owner = "SequentialLR"
        check_optimizer(owner, optimizer)
        _check_members(owner, schedulers, optimizer)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"Sequential Schedulers expects number of schedulers provided to "
                             f"be one more than the number of milestone points, but got number "
                             f"of schedulers {len(schedulers)} and the number of milestones to "
                             f"be equal to {len(milestones)}")
        self._schedulers = list(schedulers)
        self._milestones = self._arg("_milestones", list(milestones), "milestones")
        self.last_epoch = self._arg("last_epoch", last_epoch) + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:  # undo the members' first steps
            group["lr"] = group["initial_lr"]
        self._undo(self)
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx].get_last_lr()

    def _undo(self, sched: Any) -> None:
        if hasattr(sched, "_schedulers"):
            for s in sched._schedulers:
                self._undo(s)
        elif hasattr(sched, "last_epoch"):
            sched.last_epoch -= 1

    def _check_fields(self, values: dict[str, Any]) -> None:
        if len(values["_milestones"]) != len(self._schedulers) - 1:
            raise state_error("SequentialLR", f"state_dict['_milestones'] must hold one "
                                              f"milestone fewer than the {len(self._schedulers)} "
                                              f"schedulers, got {values['_milestones']}")

    def step(self) -> None:  # type: ignore[override]
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        sched = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            sched._update_lr(0)
        else:
            sched.step()
        self._last_lr = sched.get_last_lr()


class ChainedScheduler(_Composite):
    """Step every scheduler each epoch; chainable ones multiply, so the factors compose."""

    _FIELDS = {"_last_lr": LRS, "_schedulers": _MEMBERS}

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None
                 ) -> None:
        if len(schedulers) < 1:
            raise ValueError("ChainedScheduler expects at least one scheduler to be chained, "
                             "but got no scheduler.")
        optimizer = optimizer or schedulers[0].optimizer
        check_optimizer("ChainedScheduler", optimizer)
        _check_members("ChainedScheduler", schedulers, optimizer)
        self._schedulers = list(schedulers)
        self.optimizer = optimizer
        self._last_lr = group_values(optimizer, "lr")

    def step(self) -> None:  # type: ignore[override]
        for s in self._schedulers:
            s.step()
        self._last_lr = group_values(self.optimizer, "lr")
