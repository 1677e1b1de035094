"""`SGD` with momentum, dampening, Nesterov and weight decay (PyTorch's update rule)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ._checks import check_number
from .optimizer import Optimizer


class SGD(Optimizer):
    """``d = g + wd·p; b = μ·b + (1-τ)·d (b = d at the first step); d = d + μ·b if nesterov
    else b; p -= lr·d``."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 clipper: Callable | None = None) -> None:
        lr, momentum = check_number("lr", lr), check_number("momentum", momentum)
        dampening = check_number("dampening", dampening, float("-inf"))
        weight_decay = check_number("weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov=True requires momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov), clipper)

    def _update(self, p, grad, group, state) -> None:
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        d = grad + wd * p.data if wd else grad
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(d, dtype=p.dtype, copy=True)
            else:
                buf *= mu
                buf += (1 - group["dampening"]) * d
            d = d + mu * buf if group["nesterov"] else buf
        p.data -= (lr * d).astype(p.dtype, copy=False)
