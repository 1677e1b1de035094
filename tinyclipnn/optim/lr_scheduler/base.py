"""`LRScheduler`: PyTorch's scheduler protocol, so schedulers compose when stacked.

Each ``step()`` advances ``last_epoch`` and asks ``get_lr()`` for the new rates. The chainable
schedulers' ``get_lr`` *multiplies the optimizer's current lr* (as PyTorch's do), so two
schedulers on one optimizer compose: StepLR(3, 0.1) and ExponentialLR(0.9) give
``0.1 * 0.9**3`` at epoch 3. ``step(epoch)`` (deprecated in PyTorch too) jumps to ``epoch``
with the closed form ``_get_closed_form_lr`` where there is one. ``get_last_lr()`` is the
scheduler's own record of the rates it last set; ``state_dict()`` holds every attribute but
the optimizer, and ``load_state_dict(state_dict)`` restores them without touching the
optimizer (as PyTorch: load the optimizer's state too when resuming).
"""

from __future__ import annotations

import copy
import warnings
import weakref
from collections.abc import Mapping
from functools import wraps
from typing import Any

from ...autograd.errors import int_arg
from ..optimizer import Optimizer

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated "
    "where possible. Please use `scheduler.step()` to step the scheduler. During the "
    "deprecation, if epoch is different from None, the closed form is used instead of the new "
    "chainable form, where available.")

ORDER_WARNING = (
    "Detected call of `lr_scheduler.step()` before `optimizer.step()`. In PyTorch 1.1.0 and "
    "later, you should call them in the opposite order: `optimizer.step()` before "
    "`lr_scheduler.step()`.  Failure to do this will result in PyTorch skipping the first value "
    "of the learning rate schedule.")


def check_optimizer(owner: str, optimizer: Any) -> Optimizer:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{owner}: optimizer must be an Optimizer, got "
                        f"{type(optimizer).__name__} ({type(optimizer).__name__} is not an "
                        f"Optimizer)")
    return optimizer


def per_group(owner: str, name: str, optimizer: Optimizer, value: Any) -> list[Any]:
    """One value per parameter group: a list of the right length, or a scalar repeated."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{owner}: {name} must have the same length as "
                             f"optimizer.param_groups. {name} has {len(value)} values, "
                             f"param_groups has {n}.")
        return list(value)
    return [value] * n


def group_values(optimizer: Optimizer, key: str) -> list[Any]:
    return [g[key] for g in optimizer.param_groups]


def _track_optimizer_steps(optimizer: Optimizer) -> None:
    """Wrap ``optimizer.step`` (once) so it records that it ran: the call-order warning."""
    if hasattr(optimizer.step, "_wrapped_by_lr_sched"):
        return
    opt_ref = weakref.ref(optimizer)
    func = type(optimizer).step

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        opt = opt_ref()
        opt._opt_called = True
        return func(opt, *args, **kwargs)

    wrapper._wrapped_by_lr_sched = True  # type: ignore[attr-defined]
    optimizer.step = wrapper  # type: ignore[method-assign]


class LRScheduler:
    """Base class of the schedulers (PyTorch's protocol, see the module docstring).

    Args:
        optimizer: the `Optimizer` whose groups' ``lr`` this sets.
        last_epoch: -1 to start fresh (records each group's ``initial_lr``); >= 0 to resume
            (each group must then already hold ``initial_lr``, as after loading a state dict).
    """

    _NOT_STATE = ("optimizer",)  # attributes left out of the state dict
    _REQUIRED = ("last_epoch",)  # keys load_state_dict insists on

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        owner = type(self).__name__
        self.optimizer = check_optimizer(owner, optimizer)
        last_epoch = int_arg(owner, "last_epoch", last_epoch)
        if last_epoch < -1:
            raise ValueError(f"{owner}: last_epoch must be an integer >= -1, got {last_epoch!r}")
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise ValueError(
                        f"{owner}: last_epoch={last_epoch} resumes a schedule, but "
                        f"param 'initial_lr' is not specified in param_groups[{i}]; load the "
                        f"optimizer's state dict first, or pass last_epoch=-1")
        self.base_lrs: list[float] = group_values(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        _track_optimizer_steps(optimizer)
        self._initial_step()

    def _initial_step(self) -> None:
        """Reset the step count and take the first step (epoch 0 for a fresh schedule)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:  # pragma: no cover
        """The new rate of each group at ``last_epoch`` (subclasses)."""
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The rates this scheduler set at its last step (a copy)."""
        return list(self._last_lr)

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch (call after ``optimizer.step()``); ``epoch`` jumps there."""
        if self._step_count == 1 and not getattr(self.optimizer, "_opt_called", False):
            warnings.warn(ORDER_WARNING, UserWarning, stacklevel=2)
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = group_values(self.optimizer, "lr")

    # ---- state ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer (hyper-parameters, counters, last rates)."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items()
                if k not in self._NOT_STATE}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a `state_dict`; the optimizer's learning rates are left as they are."""
        self._check_state(state_dict)
        self.__dict__.update(copy.deepcopy(
            {k: v for k, v in state_dict.items() if k not in self._NOT_STATE}))

    def _check_state(self, state_dict: Any) -> None:
        owner, required = type(self).__name__, self._REQUIRED
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{owner}.load_state_dict: state_dict must be a dict (from "
                            f"state_dict()), got {type(state_dict).__name__}")
        missing = [k for k in required if k not in state_dict]
        if missing:
            raise ValueError(f"{owner}.load_state_dict: state_dict lacks {missing}; pass what "
                             f"{owner}.state_dict() returned")


def check_int(owner: str, name: str, value: Any, minimum: int) -> int:
    """``value`` as an int >= ``minimum``: TypeError for a non-integer, ValueError below."""
    value = int_arg(owner, name, value)
    if value < minimum:
        raise ValueError(f"{owner}: expected integer {name} >= {minimum}, but got {value!r}")
    return value


def check_real(owner: str, name: str, value: Any, low: float = float("-inf"),
               high: float = float("inf")) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{owner}: {name} must be a number, got {type(value).__name__} "
                        f"{value!r}")
    if not low <= value <= high:
        raise ValueError(f"{owner}: {name} must be in [{low}, {high}], got {value}")
    return value
