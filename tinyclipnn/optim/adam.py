"""`Adam` and `AdamW` with PyTorch's update rules and defaults."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ._checks import check_betas, check_number
from .optimizer import Optimizer


class Adam(Optimizer):
    """``m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²; p -= lr/(1-β1ᵗ) · m / (sqrt(v)/sqrt(1-β2ᵗ) + eps)``
    with ``g = grad + wd·p`` (L2 penalty) and optional AMSGrad (max of past v)."""

    decoupled = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False,
                 clipper: Callable | None = None) -> None:
        lr, eps = check_number("lr", lr), check_number("eps", eps)
        weight_decay = check_number("weight_decay", weight_decay)
        betas = check_betas(betas)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad), clipper)

    def _update(self, p, grad, group, state) -> None:
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if wd and self.decoupled:
            p.data *= 1 - lr * wd
        elif wd:
            grad = grad + wd * p.data
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * grad
        v *= b2
        v += (1 - b2) * grad * grad
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        step_size = lr / (1 - b1**t)
        denom = np.sqrt(v) / math.sqrt(1 - b2**t)
        denom += eps
        p.data -= (step_size * m / denom).astype(p.dtype, copy=False)


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr·wd`` before the Adam step (default wd 0.01)."""

    decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False,
                 clipper: Callable | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, clipper)
