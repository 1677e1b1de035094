"""Reverse-mode autograd on numpy: `Tensor`, `Function`, `backward`, `no_grad`, `gradcheck`."""

from .tensor import Tensor, tensor, zero_grads  # noqa: I001  (first: it wires the op modules)
from .dtypes import get_default_dtype, set_default_dtype
from .function import (
    Context,
    Function,
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
)
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
from .gradcheck import GradcheckError, gradcheck
from .errors import InputError
from .random import default_generator, manual_seed
from .sampling import multinomial, randint

__all__ = [
    "arange", "empty", "from_numpy", "full", "full_like", "ones", "ones_like", "rand",
    "rand_like", "randn", "randn_like", "zeros", "zeros_like",
    "Context", "Function", "GradcheckError", "Tensor", "default_generator", "enable_grad",
    "get_default_dtype", "manual_seed",
    "gradcheck", "is_grad_enabled", "no_grad", "set_default_dtype", "tensor", "zero_grads",
    "InputError", "inference_mode", "is_inference_mode_enabled", "multinomial", "randint",
]
