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
    InputError,
    Tensor,
    arange,
    empty,
    enable_grad,
    from_numpy,
    full,
    full_like,
    get_default_dtype,
    gradcheck,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    manual_seed,
    multinomial,
    no_grad,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    set_default_dtype,
    tensor,
    zeros,
    zeros_like,
)
from .autograd import api as _function_forms
from .autograd.dtypes import (  # PyTorch's dtype names, as numpy dtypes
    bool_ as bool,  # noqa: A004
)
from .autograd.dtypes import (
    double,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    uint8,
)
from .autograd.dtypes import float32 as float  # noqa: A004
from .autograd.dtypes import int32 as int  # noqa: A004
from .serialization import load, save

# the function forms of the ops (tc.exp, tc.sum, tc.where, ...): every name autograd.api exports
globals().update({name: getattr(_function_forms, name) for name in _function_forms.__all__})

__version__ = "0.1.0"

_LAZY = ("clip", "data", "lab", "kernels", "distributed")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tinyclipnn' has no attribute {name!r}")


__all__ = [
    "bool", "double", "float", "float16", "float32", "float64", "half", "int", "int8", "int16",
    "int32", "int64", "long", "uint8", "arange", "empty", "from_numpy", "full", "full_like",
    "ones_like", "rand", "rand_like", "randn", "randn_like", "zeros_like", "Function", "Tensor",
    "clip", "data", "enable_grad", "get_default_dtype", "gradcheck", "is_grad_enabled", "lab",
    "load", "manual_seed", "nn", "no_grad", "ones", "optim", "save", "set_default_dtype",
    "tensor", "zeros", "InputError", "inference_mode", "is_inference_mode_enabled",
    "multinomial", "randint",
    *_function_forms.__all__,
]
