"""`Adagrad` with PyTorch's update rule, defaults and state names."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ._checks import FLAG, OPTIONAL_FLAG, number_rules
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """``g = ±grad + wd·p; s += g²; p -= lr / (1 + (t-1)·lr_decay) · g / (sqrt(s) + eps)``
    (``torch.optim.Adagrad``; the sum starts at ``initial_accumulator_value`` and, as in
    PyTorch, the state exists from construction on).

    ``foreach`` is PyTorch's and means nothing here; ``maximize`` ascends."""

    _HYPER = {**number_rules("lr", "lr_decay", "weight_decay", "initial_accumulator_value",
                             "eps"), "foreach": OPTIONAL_FLAG, "maximize": FLAG}

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 clipper: Callable | None = None) -> None:
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, foreach=foreach, maximize=maximize), clipper)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = {"step": 0, "sum": np.full_like(
                    p.data, group["initial_accumulator_value"])}

    def _update(self, p, grad, group, state) -> None:
        if not state:  # a parameter group added after construction
            state.update(step=0, sum=np.full_like(p.data, group["initial_accumulator_value"]))
        g = -grad if group["maximize"] else grad
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.data
        state["step"] += 1
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"]
        s += g * g
        p.data -= (clr * g / (np.sqrt(s) + group["eps"])).astype(p.dtype, copy=False)
