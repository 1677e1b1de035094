"""`Optimizer`: parameter groups, per-parameter state, ``zero_grad`` and the ``clipper=`` hook."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

import numpy as np

from .._validate import Callback, Integer, Kind, Optional, Rule, check, defined_here, prefixed, show
from ..autograd import Tensor, enable_grad, zero_grads
from ._checks import StateArray


class Optimizer:
    """Base class with PyTorch's ``param_groups`` / ``state`` layout.

    Parameters
    ----------
    params
        An iterable of tensors, or of dicts ``{"params": [...], "lr": ...}`` (groups).
    defaults
        Hyper-parameters each group inherits unless it sets its own.
    clipper
        Optional callable ``clipper(params_with_grad)`` run at the start of every
        ``step()`` (e.g. ``functools.partial(clip.clip_grad_norm_, max_norm=1.0)`` or a
        ``clip.ZClip()`` instance); its return value is kept in ``self.last_clip``.

    Subclasses declare the rule of each hyper-parameter in ``_HYPER`` (checked for the
    defaults, for every parameter group and for every loaded state dict) and of each
    per-parameter state entry in ``_STATE`` (None: any entry, arrays checked against their
    parameter's shape).
    """

    _HYPER: ClassVar[Mapping[str, Rule]] = {}
    _STATE: ClassVar[Mapping[str, Rule] | None] = None

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any],
                 clipper: Callable[[list[Tensor]], Any] | None = None) -> None:
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors or "
                            f"dicts (e.g. model.parameters()), got a single Tensor")
        self.clipper = _OPTIONAL_CALLBACK(clipper, "clipper")
        self.defaults = self._checked_hyper(defaults, str)
        self.last_clip: Any = None
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group: dict[str, Any]) -> None:
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for j, p in enumerate(params):
            check(_TENSOR, p, f"params[{j}]", type(self).__name__)
            if not p.requires_grad:
                raise ValueError("optimizer got a tensor that does not require grad")
        if len({id(p) for p in params}) != len(params):
            warnings.warn("optimizer contains a parameter group with duplicate parameters: each "
                          "would be updated once per occurrence in a step (PyTorch warns too; "
                          "pass each parameter once)", UserWarning, stacklevel=3)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        i = len(self.param_groups)
        full = dict(self.defaults)
        full.update(self._checked_hyper({k: v for k, v in group.items() if k != "params"},
                                        lambda k: f"param_groups[{i}][{k!r}]"))
        self._check_group(full, f"param_groups[{i}]")
        full["params"] = params
        self.param_groups.append(full)

    def _checked_hyper(self, values: Mapping[str, Any], where: Callable[[str], str]
                       ) -> dict[str, Any]:
        """``values`` with each hyper-parameter of ``_HYPER`` checked and normalised (other
        keys, e.g. a scheduler's ``initial_lr``, as they are); ``where(key)`` names it."""
        return {k: self._HYPER[k](v, where(k)) if k in self._HYPER else v
                for k, v in values.items()}

    def _check_group(self, group: Mapping[str, Any], where: str) -> None:
        """Rules between a group's hyper-parameters (subclasses; raise ValueError)."""

    def _required_state(self, group: Mapping[str, Any]) -> tuple[str, ...]:
        """The entries a non-empty per-parameter state must hold under ``group``."""
        return ()

    def _check_grads(self) -> None:
        """Every gradient a step would use is a float array of its parameter's shape (checked
        before the clipper or any update runs, so a bad one changes nothing)."""
        owner = type(self).__name__
        for i, group in enumerate(self.param_groups):
            for j, p in enumerate(group["params"]):
                g = p.grad
                if g is None:
                    continue
                where = f"{owner}.step: param_groups[{i}]['params'][{j}].grad"
                if not isinstance(g, np.ndarray):
                    raise TypeError(f"{where} must be a numpy array (or None), got "
                                    f"{type(g).__name__}; nothing was updated")
                if not _floating(g.dtype, p.dtype):
                    raise TypeError(f"{where} has dtype {g.dtype}; gradients must be floating "
                                    f"point (float16, bfloat16, float32 or float64), as the "
                                    f"parameter ({p.dtype}); nothing was updated")
                if g.shape != p.data.shape:
                    raise ValueError(f"{where} has shape {g.shape} but the parameter has shape "
                                     f"{p.data.shape}; nothing was updated")

    def _params_with_grad(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"] if p.grad is not None]

    skipped_steps: int = 0  # steps a clipper reported as ``skipped`` (nothing was updated)

    def _clip(self) -> bool:
        """Run the clipper; True when its report says to skip this step."""
        if self.clipper is None:
            return False
        self.last_clip = self.clipper(self._params_with_grad())
        return getattr(self.last_clip, "skipped", False) is True

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear gradients (views into a ``GradBuffer`` are zeroed in place, never dropped)."""
        zero_grads((p for g in self.param_groups for p in g["params"]), set_to_none)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Clip (when a ``clipper`` is set), then update every parameter that has a gradient.

        ``closure``: as PyTorch, a callable that re-evaluates the model (zero the gradients,
        compute the loss, ``backward()``, return the loss); it is called first, with gradient
        recording on, and its return value is returned (None without a closure).

        When the clipper's report (``self.last_clip``) says ``skipped`` (a non-finite norm with
        ``nonfinite="skip"``, a loss-scale overflow, a ZClip spike), nothing is updated:
        parameters and optimizer state (momentum, moments, step counts) stay as they were, as
        Optax's ``apply_if_finite``; ``self.skipped_steps`` counts such steps. A gradient
        that is not a float array of its parameter's shape raises before anything changes."""
        loss = run_closure(closure)
        self._check_grads()
        if self._clip():
            self.skipped_steps += 1
            return loss
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                self._update(p, p.grad, group, self.state.setdefault(p, {}))
                p._bump_version()
        return loss

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any],
                state: dict[str, Any]) -> None:  # pragma: no cover
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}`` as PyTorch."""
        index = {}
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            packed["params"] = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {index[id(p)]: copy.deepcopy(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore `state_dict` output (also after ``tinyclipnn.save`` / ``load``; PyTorch's
        layout). Everything is checked before anything changes, so a bad state dict raises
        ``TypeError`` / ``ValueError`` naming the entry and leaves the optimizer as it was:
        the groups' structure and sizes, each hyper-parameter by the constructor's rule, each
        state index, and each per-parameter state entry (arrays of the parameter's shape, with
        finite numbers; cast to its dtype)."""
        owner = type(self).__name__
        try:
            groups, state = self._checked_state_dict(state_dict)
        except (TypeError, ValueError) as e:
            raise prefixed(f"{owner}.load_state_dict: ", e) from None
        for own, values in zip(self.param_groups, groups, strict=True):
            own.update(values)
        self.state = state

    def _checked_state_dict(self, state_dict: Any) -> tuple[list[dict], dict]:
        """(each group's new values, the new state), checked; raises before any change."""
        saved_groups, saved_state = _unpack(state_dict)
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups "
                             f"({len(saved_groups)}) than the optimizer "
                             f"({len(self.param_groups)})")
        groups, param_of, group_of = [], {}, {}
        for i, (saved, own) in enumerate(zip(saved_groups, self.param_groups, strict=True)):
            where = f"param_groups[{i}]"
            if not isinstance(saved, Mapping):
                raise TypeError(f"{where} must be a dict, got {type(saved).__name__}")
            ids = saved.get("params")
            if not isinstance(ids, (list, tuple)) or len(ids) != len(own["params"]):
                raise ValueError(f"{where} holds {_count(ids)} parameters in the state dict but "
                                 f"{len(own['params'])} in the optimizer (loaded state dict "
                                 "contains a parameter group that doesn't match the size of "
                                 "optimizer's group)")
            values = self._checked_hyper({k: copy.deepcopy(v) for k, v in saved.items()
                                          if k != "params"}, lambda k, w=where: f"{w}[{k!r}]")
            merged = {**own, **values}
            self._check_group(merged, where)
            groups.append(values)
            for j, (pid, p) in enumerate(zip(ids, own["params"], strict=True)):
                pid = _INDEX(pid, f"{where}['params'][{j}]")
                if param_of.setdefault(pid, p) is not p:
                    raise ValueError(f"{where}['params'][{j}]: parameter index {pid} appears "
                                     "twice in the state dict for different parameters")
                group_of[pid] = merged
        if not isinstance(saved_state, Mapping):
            raise TypeError(f"'state' must be a dict, got {type(saved_state).__name__}")
        state = {}
        for key, entry in saved_state.items():
            pid = _state_key(key)
            if pid not in param_of:
                raise ValueError(f"state index {key!r} is not a parameter index of "
                                 f"param_groups (they hold {sorted(param_of)})")
            where = f"state[{key!r}]"
            if not isinstance(entry, Mapping):
                raise TypeError(f"{where} must be a dict, got {type(entry).__name__}")
            p = param_of[pid]
            state[p] = self._checked_param_state(entry, p, group_of[pid], where)
        return groups, state

    def _checked_param_state(self, entry: Mapping[str, Any], p: Tensor,
                             group: Mapping[str, Any], where: str) -> dict[str, Any]:
        rules = self._STATE
        if rules is None:  # no declared layout: arrays must fit the parameter
            return {n: _state_value(f"{where}[{n!r}]", v, p) for n, v in entry.items()}
        lenient = not defined_here(self)  # a user's subclass may store more entries
        unknown = [n for n in entry if n not in rules and not lenient]
        missing = [n for n in self._required_state(group) if entry and n not in entry]
        if unknown or missing:
            raise ValueError(f"{where} has " + " and ".join(
                ([f"unexpected entries {sorted(map(str, unknown))}"] if unknown else [])
                + ([f"no {missing}"] if missing else []))
                + f"; a {type(self).__name__} state holds {sorted(rules)}")
        out = {}
        for n, v in entry.items():
            rule, at = rules.get(n), f"{where}[{n!r}]"
            if rule is None:
                out[n] = _state_value(at, v, p)
            else:
                out[n] = (rule.bind(p) if isinstance(rule, StateArray) else rule)(v, at)
        return out


_INDEX = Integer(0)
_TENSOR = Kind(Tensor, "a Tensor")
_OPTIONAL_CALLBACK = Optional(Callback())  # a clipper (a clip function or object), a closure


def _floating(grad: np.dtype, param: np.dtype) -> bool:
    """A gradient dtype an update can use: a float (bfloat16 too), complex for a complex
    parameter."""
    return grad.kind == "f" or grad.name == "bfloat16" or (grad.kind == "c" == param.kind)


def _count(ids: Any) -> str:
    return str(len(ids)) if isinstance(ids, (list, tuple)) else f"no list of ({show(ids)})"


def run_closure(closure: Callable[[], Any] | None) -> Any:
    """``closure()`` with gradient recording on (even inside ``no_grad``), as PyTorch's
    optimizers call it; None when there is none."""
    if closure is None:
        return None
    check(_OPTIONAL_CALLBACK, closure, "closure", "step()")
    with enable_grad():
        return closure()


def _unpack(state_dict: Any) -> tuple[list, Any]:
    if not isinstance(state_dict, Mapping) or not {"state", "param_groups"} <= set(state_dict):
        raise ValueError("expected a dict with 'state' and 'param_groups' (what "
                         f"Optimizer.state_dict() returns), got {type(state_dict).__name__}"
                         + (f" with keys {sorted(map(str, state_dict))}"
                            if isinstance(state_dict, Mapping) else ""))
    groups = state_dict["param_groups"]
    if not isinstance(groups, (list, tuple)):
        raise TypeError(f"'param_groups' must be a list, got {type(groups).__name__}")
    return list(groups), state_dict["state"]


def _state_key(key: Any) -> int | None:
    """A state key as a parameter index (an int, or its digits as a string), else None."""
    if isinstance(key, str) and key.isdigit():
        return int(key)
    try:
        return _INDEX(key, "state key")
    except (TypeError, ValueError):
        return None


def _state_value(where: str, value: Any, p: Tensor) -> Any:
    """A copy of one saved state entry: arrays must match the parameter's shape."""
    if np.ndim(value) == 0:
        return copy.deepcopy(value)
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{where} has dtype {arr.dtype}; expected numbers")
    if arr.shape != p.shape:
        raise ValueError(f"{where} has shape {arr.shape} but its parameter has shape {p.shape}")
    return np.array(arr, dtype=p.dtype)
