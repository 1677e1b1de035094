"""`LRScheduler`: PyTorch's scheduler protocol, so schedulers compose when stacked.

Each ``step()`` advances ``last_epoch`` and asks ``get_lr()`` for the new rates. The chainable
schedulers' ``get_lr`` *multiplies the optimizer's current lr* (as PyTorch's do), so two
schedulers on one optimizer compose: StepLR(3, 0.1) and ExponentialLR(0.9) give
``0.1 * 0.9**3`` at epoch 3. ``step(epoch)`` (deprecated in PyTorch too) jumps to ``epoch``
with the closed form ``_get_closed_form_lr`` where there is one. ``get_last_lr()`` is the
scheduler's own record of the rates it last set; ``state_dict()`` holds every attribute but
the optimizer, and ``load_state_dict(state_dict)`` restores them without touching the
optimizer (as PyTorch: load the optimizer's state too when resuming). Each class lists its
attributes with their rules in ``_FIELDS``: the constructor checks its arguments with them and
``load_state_dict`` checks every stored field with them before it changes anything.
"""

from __future__ import annotations

import copy
import warnings
import weakref
from collections.abc import Mapping
from functools import wraps
from typing import Any, ClassVar

from ..._validate import (
    Boolean,
    Integer,
    Kind,
    ListOf,
    Real,
    Rule,
    check,
    check_state,
    defined_here,
    state_error,
)
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


_OPTIMIZER = Kind(Optimizer, "an Optimizer (tinyclipnn.optim)")


def check_optimizer(owner: str, optimizer: Any) -> Optimizer:
    return check(_OPTIMIZER, optimizer, "optimizer", owner)


def per_group(owner: str, name: str, optimizer: Optimizer, value: Any, rule: Rule) -> list[Any]:
    """One value per parameter group, each checked by ``rule``: a list (or tuple) of one per
    group, or one value for every group."""
    n = len(optimizer.param_groups)
    if not isinstance(value, (list, tuple)):
        return [check(rule, value, name, owner)] * n
    if len(value) != n:
        raise ValueError(f"{owner}: {name} must be {rule.text} or a list of {n} such values "
                         f"(one per parameter group), got {len(value)} values")
    return [check(rule, v, f"{name}[{i}]", owner) for i, v in enumerate(value)]


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


LR = Real()  # a learning rate a scheduler computed: finite (its sign is the user's choice)
LRS = ListOf(LR)  # one per parameter group
EPOCH = Integer(-1)
STEP_EPOCH = Integer(0)  # ``step(epoch)``
FACTOR = Real(0)  # a multiplicative factor such as gamma: finite, >= 0
POSITIVE = Real(0, low_open=True)  # a finite number > 0 (a peak rate, a divisor)
_PYTORCH_ONLY = ("_get_lr_called_within_step", "verbose")  # in PyTorch's state dicts; unused


class LRScheduler:
    """Base class of the schedulers (PyTorch's protocol, see the module docstring).

    Parameters
    ----------
    optimizer
        The `Optimizer` whose groups' ``lr`` this sets.
    last_epoch
        -1 to start fresh (records each group's ``initial_lr``); >= 0 to resume
        (each group must then already hold ``initial_lr``, as after loading a state dict).
    """

    _NOT_STATE = ("optimizer",)  # attributes left out of the state dict
    # every state_dict() key and its rule (a subclass repeats the ones it keeps)
    _FIELDS: ClassVar[Mapping[str, Rule]] = {
        "base_lrs": LRS, "last_epoch": EPOCH, "_step_count": Integer(0),
        "_is_initial": Boolean(), "_last_lr": LRS}
    _PER_GROUP: ClassVar[tuple[str, ...]] = ("base_lrs", "_last_lr")  # one entry per group

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        owner = type(self).__name__
        self.optimizer = check_optimizer(owner, optimizer)
        last_epoch = self._arg("last_epoch", last_epoch)
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
            epoch = check(STEP_EPOCH, epoch, "epoch", type(self).__name__)
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
        """Restore a `state_dict`; the optimizer's learning rates are left as they are. Every
        field is checked first (``_FIELDS``: the constructor's rules), so a bad state raises
        ``TypeError`` / ``ValueError`` naming the key, the value and the rule, and changes
        nothing."""
        self._apply_state(self._checked_state(state_dict))

    def _arg(self, field: str, value: Any, name: str | None = None) -> Any:
        """Constructor argument ``name`` (default: ``field``) checked by the rule of the
        field it becomes."""
        return check(self._FIELDS[field], value, name or field, type(self).__name__)

    def _take(self, **arguments: Any) -> None:
        """Store each constructor argument under its own name, checked by its field's rule."""
        for name, value in arguments.items():
            setattr(self, name, self._arg(name, value))

    def _checked_state(self, state_dict: Any) -> dict[str, Any]:
        """The fields of ``state_dict``, checked and normalised (nothing is changed)."""
        owner = type(self).__name__
        values = check_state(owner, state_dict, self._FIELDS, ignore=_PYTORCH_ONLY,
                             strict=defined_here(self))
        n = len(self.optimizer.param_groups)
        for key in self._PER_GROUP:
            if key in values and len(values[key]) != n:
                raise state_error(owner, f"state_dict[{key!r}] has {len(values[key])} entries, "
                                         f"one per parameter group, but the optimizer has {n}")
        self._check_fields(values)
        return values

    def _check_fields(self, values: dict[str, Any]) -> None:
        """Rules between fields (subclasses; raise ``state_error``)."""

    def _apply_state(self, values: dict[str, Any]) -> None:
        """Take checked values (fresh objects: nothing is shared with the state dict)."""
        self.__dict__.update(values)

