"""tinyclipnn: a small numpy autograd, RNN/LSTM/GRU layers and fast gradient-clipping kernels.

Importing it is cheap: no Numba import and no compilation (kernels compile on first use).
``tinyclipnn.clip``, ``tinyclipnn.data`` and ``tinyclipnn.lab`` load on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import nn, optim
from .autograd import (
    Function,
    Tensor,
    enable_grad,
    get_default_dtype,
    gradcheck,
    is_grad_enabled,
    manual_seed,
    no_grad,
    set_default_dtype,
    tensor,
)
from .autograd.api import (
    abs,
    cat,
    clamp,
    concat,
    exp,
    log,
    log_softmax,
    matmul,
    max,
    mean,
    ones,
    relu,
    reshape,
    sigmoid,
    softmax,
    sqrt,
    stack,
    sum,
    tanh,
    transpose,
    where,
    zeros,
)
from .serialization import load, save

__version__ = "0.1.0"

_LAZY = ("clip", "data", "lab", "kernels", "distributed")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tinyclipnn' has no attribute {name!r}")


__all__ = [
    "Function", "Tensor", "abs", "cat", "clamp", "clip", "concat", "data", "enable_grad", "exp",
    "get_default_dtype", "gradcheck", "is_grad_enabled", "lab", "load", "log", "log_softmax",
    "manual_seed", "matmul", "max", "mean", "nn", "no_grad", "ones", "optim", "relu", "reshape",
    "save", "set_default_dtype", "sigmoid", "softmax", "sqrt", "stack", "sum", "tanh", "tensor",
    "transpose", "where", "zeros",
]
