"""`Optimizer`: parameter groups, per-parameter state, ``zero_grad`` and the ``clipper=`` hook."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..autograd import Tensor, enable_grad, zero_grads


class Optimizer:
    """Base class with PyTorch's ``param_groups`` / ``state`` layout.

    Args:
        params: an iterable of tensors, or of dicts ``{"params": [...], "lr": ...}`` (groups).
        defaults: hyper-parameters each group inherits unless it sets its own.
        clipper: optional callable ``clipper(params_with_grad)`` run at the start of every
            ``step()`` (e.g. ``functools.partial(clip.clip_grad_norm_, max_norm=1.0)`` or a
            ``clip.ZClip()`` instance); its return value is kept in ``self.last_clip``.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any],
                 clipper: Callable[[list[Tensor]], Any] | None = None) -> None:
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got a single Tensor")
        if clipper is not None and not callable(clipper):
            raise TypeError(f"clipper must be callable (a clip function or clipper object), "
                            f"got {type(clipper).__name__}")
        self.defaults = defaults
        self.clipper = clipper
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
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not p.requires_grad:
                raise ValueError("optimizer got a tensor that does not require grad")
        if len({id(p) for p in params}) != len(params):
            warnings.warn("optimizer contains a parameter group with duplicate parameters: each "
                          "would be updated once per occurrence in a step (PyTorch warns too; "
                          "pass each parameter once)", UserWarning, stacklevel=3)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        full = dict(self.defaults)
        full.update({k: v for k, v in group.items() if k != "params"})
        full["params"] = params
        self.param_groups.append(full)

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
        Optax's ``apply_if_finite``; ``self.skipped_steps`` counts such steps."""
        loss = run_closure(closure)
        if self._clip():
            self.skipped_steps += 1
            return loss
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.shape != p.data.shape:
                    raise RuntimeError(f"gradient shape {p.grad.shape} does not match parameter "
                                       f"shape {p.data.shape}")
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
        """Restore `state_dict` output (also after ``tinyclipnn.save`` / ``load``). Groups,
        parameter indices, and every state array's shape and dtype are checked before anything
        changes, so a bad state dict leaves the optimizer as it was."""
        groups, saved_state = _unpack(state_dict)
        if len(groups) != len(self.param_groups):
            raise ValueError(f"load_state_dict: {len(groups)} parameter groups in the state dict "
                             f"but {len(self.param_groups)} in the optimizer")
        for i, (saved, own) in enumerate(zip(groups, self.param_groups, strict=True)):
            if not isinstance(saved, dict) or len(saved.get("params", ())) != len(own["params"]):
                raise ValueError(f"load_state_dict: parameter group {i} has "
                                 f"{len(own['params'])} parameters in the optimizer but not in "
                                 "the state dict")
        params = [p for g in self.param_groups for p in g["params"]]
        state = {}
        for k, s in saved_state.items():
            index = _index(k, len(params))
            if not isinstance(s, dict):
                raise TypeError(f"load_state_dict: state[{k!r}] must be a dict, got "
                                f"{type(s).__name__}")
            p = params[index]
            state[p] = {n: _state_value(f"state[{k!r}][{n!r}]", v, p) for n, v in s.items()}
        for saved, own in zip(groups, self.param_groups, strict=True):
            own.update({k: copy.deepcopy(v) for k, v in saved.items() if k != "params"})
        self.state = state


def run_closure(closure: Callable[[], Any] | None) -> Any:
    """``closure()`` with gradient recording on (even inside ``no_grad``), as PyTorch's
    optimizers call it; None when there is none."""
    if closure is None:
        return None
    if not callable(closure):
        raise TypeError(f"step(): closure must be callable (or None), got "
                        f"{type(closure).__name__}")
    with enable_grad():
        return closure()


def _unpack(state_dict: Any) -> tuple[list, dict]:
    if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
        raise ValueError("load_state_dict: expected a dict with 'state' and 'param_groups' (what "
                         f"Optimizer.state_dict() returns), got {type(state_dict).__name__}"
                         + (f" with keys {sorted(map(str, state_dict))}"
                            if isinstance(state_dict, dict) else ""))
    groups, state = state_dict["param_groups"], state_dict["state"]
    if not isinstance(groups, (list, tuple)) or not isinstance(state, dict):
        raise TypeError("load_state_dict: 'param_groups' must be a list and 'state' a dict")
    return list(groups), state


def _index(key: Any, n: int) -> int:
    try:
        i = int(key)
    except (TypeError, ValueError):
        i = -1
    if isinstance(key, bool) or i != key and str(i) != key or not 0 <= i < n:
        raise ValueError(f"load_state_dict: state index {key!r} is not a parameter index "
                         f"(the optimizer has parameters 0..{n - 1})")
    return i


def _state_value(where: str, value: Any, p: Tensor) -> Any:
    """A copy of one saved state entry: arrays must match the parameter's shape."""
    if np.ndim(value) == 0:
        return copy.deepcopy(value)
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"load_state_dict: {where} has dtype {arr.dtype}; expected numbers")
    if arr.shape != p.shape:
        raise ValueError(f"load_state_dict: {where} has shape {arr.shape} but its parameter "
                         f"has shape {p.shape}")
    return np.array(arr, dtype=p.dtype)
