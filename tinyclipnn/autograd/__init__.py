"""Reverse-mode autograd on numpy: `Tensor`, `Function`, `backward`, `no_grad`, `gradcheck`.

The modules import one way: ``engine`` <- ``tensor`` (the core) <- ``function`` <- ``ops_*``
(each op's `Function` and the Tensor methods that call it, registered by `tensor_method`) <-
``api`` (the function forms, made by `function_form`). Importing this package imports them
all, so `Tensor` always has all its methods.
"""

from .api import function_form  # api imports every ops_* module: the Tensor methods
from .creation import (
    arange,
    empty,
    from_numpy,
    full,
    full_like,
    ones,
    ones_like,
    rand,
    rand_like,
    randn,
    randn_like,
    zeros,
    zeros_like,
)
from .dtypes import get_default_dtype, set_default_dtype
from .errors import InputError
from .function import Context, Function
from .grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
)
from .gradcheck import GradcheckError, gradcheck
from .random import default_generator, manual_seed
from .sampling import multinomial, randint
from .tensor import Tensor, tensor, tensor_method, zero_grads

__all__ = [
    "arange", "empty", "from_numpy", "full", "full_like", "ones", "ones_like", "rand",
    "rand_like", "randn", "randn_like", "zeros", "zeros_like",
    "Context", "Function", "GradcheckError", "Tensor", "default_generator", "enable_grad",
    "get_default_dtype", "manual_seed",
    "gradcheck", "is_grad_enabled", "no_grad", "set_default_dtype", "tensor", "zero_grads",
    "InputError", "inference_mode", "is_inference_mode_enabled", "multinomial", "randint",
    "function_form", "tensor_method",
]
