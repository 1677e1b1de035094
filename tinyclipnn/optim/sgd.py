"""`SGD` with momentum, dampening, Nesterov and weight decay (PyTorch's update rule)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from ._checks import FLAG, StateArray, number_rule, number_rules
from .optimizer import Optimizer


class SGD(Optimizer):
    """``d = g + wd·p; b = μ·b + (1-τ)·d (b = d at the first step); d = d + μ·b if nesterov
    else b; p -= lr·d``."""

    _HYPER = {**number_rules("lr", "momentum", "weight_decay"),
              "dampening": number_rule("dampening", float("-inf")), "nesterov": FLAG}
    _STATE = {"momentum_buffer": StateArray(optional=True)}

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 clipper: Callable | None = None) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov), clipper)

    def _check_group(self, group: Mapping[str, Any], where: str) -> None:
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{where}: Nesterov momentum requires a momentum and zero "
                             f"dampening (nesterov=True needs momentum > 0 and dampening = 0, "
                             f"got momentum={group['momentum']!r}, "
                             f"dampening={group['dampening']!r})")

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
