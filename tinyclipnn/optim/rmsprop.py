"""`RMSprop` with PyTorch's update rule, defaults and state names."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ._checks import FLAG, OPTIONAL_FLAG, number_rules
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """``g = ±grad + wd·p; v = α·v + (1-α)·g²``; centered: ``m = m + (1-α)(g - m)``,
    ``d = sqrt(v - m²) + eps`` else ``d = sqrt(v) + eps``; with momentum
    ``b = μ·b + g/d; p -= lr·b``, else ``p -= lr·g/d`` (``torch.optim.RMSprop``).

    ``foreach`` is PyTorch's and means nothing here; ``maximize`` ascends."""

    _HYPER = {**number_rules("lr", "alpha", "eps", "weight_decay", "momentum"),
              "centered": FLAG, "foreach": OPTIONAL_FLAG, "maximize": FLAG}

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False, foreach: bool | None = None, maximize: bool = False,
                 clipper: Callable | None = None) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, foreach=foreach,
                                      maximize=maximize), clipper)

    def _update(self, p, grad, group, state) -> None:
        alpha, eps, mu, wd = group["alpha"], group["eps"], group["momentum"], group["weight_decay"]
        g = -grad if group["maximize"] else grad
        if wd:
            g = g + wd * p.data
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p.data)
            if mu > 0:
                state["momentum_buffer"] = np.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p.data)
        state["step"] += 1
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * g * g
        if group["centered"]:
            m = state["grad_avg"]
            m += (1 - alpha) * (g - m)
            avg = np.sqrt(v - m * m)
        else:
            avg = np.sqrt(v)
        avg += eps
        if mu > 0:
            buf = state["momentum_buffer"]
            buf *= mu
            buf += g / avg
            p.data -= (group["lr"] * buf).astype(p.dtype, copy=False)
        else:
            p.data -= (group["lr"] * g / avg).astype(p.dtype, copy=False)
