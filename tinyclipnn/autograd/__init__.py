"""Reverse-mode autograd on numpy: `Tensor`, `Function`, `backward`, `no_grad`, `gradcheck`.

The modules import one way: ``tensor`` (the core, which calls ``engine``) <- ``function``
<- ``ops_*`` (each op's `Function` and the Tensor methods calling it) <- ``api`` (the function
forms). Importing this package imports every ops module, so `Tensor` has all its methods.
"""

from . import api, sampling  # noqa: F401  (api imports every ops_* module: the Tensor methods)
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
from .tensor import Tensor, tensor, zero_grads

__all__ = [
    "arange", "empty", "from_numpy", "full", "full_like", "ones", "ones_like", "rand",
    "rand_like", "randn", "randn_like", "zeros", "zeros_like",
    "Context", "Function", "GradcheckError", "Tensor", "default_generator", "enable_grad",
    "get_default_dtype", "manual_seed",
    "gradcheck", "is_grad_enabled", "no_grad", "set_default_dtype", "tensor", "zero_grads",
    "InputError", "inference_mode", "is_inference_mode_enabled", "multinomial", "randint",
]
