"""The function forms of the ops, as in PyTorch: ``tinyclipnn.exp(x)`` is ``x.exp()``.

Each name in `METHOD_FUNCTIONS` becomes ``tinyclipnn.<name>(input, ...)``, which calls the
Tensor method of that name on ``input`` (made a tensor first) with the method's other
arguments, signature and docstring. The `REDUCTIONS` take PyTorch's ``dim``/``keepdim`` first
(numpy's ``axis``/``keepdims`` too, not both). So an op that has a function form adds one name
here; ``tinyclipnn`` exports everything in ``__all__``. `concat`, `stack` and `where` take
several tensors and have no method form; they are written out below.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import ops_elementwise, ops_index, ops_reduce, ops_shape  # noqa: F401  (the methods)
from .tensor import Tensor, as_tensor

METHOD_FUNCTIONS = (
    "abs", "clamp", "clone", "eq", "equal", "exp", "gather", "log", "log_softmax",
    "masked_fill", "matmul", "maximum", "minimum", "ne", "numel", "relu", "reshape", "sigmoid",
    "softmax", "sqrt", "std", "tanh", "topk", "transpose", "var",
)
REDUCTIONS = ("amax", "amin", "argmax", "argmin", "max", "mean", "min", "sum")


def _named(function: Callable[..., Any], name: str, method: Any, signature: inspect.Signature
           ) -> Callable[..., Any]:
    """``function`` named ``name``, with ``method``'s docstring and the given signature."""
    function.__name__ = function.__qualname__ = name
    function.__doc__ = method.__doc__
    function.__signature__ = signature  # type: ignore[attr-defined]
    return function


def function_form(name: str) -> Callable[..., Any]:
    """``tinyclipnn.<name>(input, *args, **kwargs)``: ``as_tensor(input).<name>(*args, **kwargs)``."""
    method = getattr(Tensor, name)

    def function(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A002
        return method(as_tensor(input), *args, **kwargs)

    own = inspect.signature(method)
    first, *rest = own.parameters.values()
    return _named(function, name, method,
                  own.replace(parameters=[first.replace(name="input"), *rest]))


_REDUCTION_SIGNATURE = inspect.signature(
    lambda input, dim=None, keepdim=False, *, axis=None, keepdims=False: None)


def reduction_form(name: str) -> Callable[..., Any]:
    """``tinyclipnn.<name>(input, dim=None, keepdim=False, *, axis=None, keepdims=False)``."""
    method = getattr(Tensor, name)

    def function(input: Any, dim: Any = None, keepdim: bool = False, *,  # noqa: A002
                 axis: Any = None, keepdims: bool = False) -> Any:
        if dim is not None and axis is not None:
            raise TypeError("give dim= or axis= (its numpy alias), not both")
        return method(as_tensor(input), axis if dim is None else dim, bool(keepdim or keepdims))

    return _named(function, name, method, _REDUCTION_SIGNATURE)


def concat(tensors: Sequence[Any], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis (``torch.cat``)."""
    if len(tensors) == 0:
        raise ValueError("concat: expected a non-empty sequence of tensors")
    return ops_shape.Concat.apply(*[as_tensor(x) for x in tensors], axis=axis if dim is None else dim)


cat = concat


def stack(tensors: Sequence[Any], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along a new axis (``torch.stack``)."""
    if len(tensors) == 0:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    return ops_shape.Stack.apply(*[as_tensor(x) for x in tensors], axis=axis if dim is None else dim)


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """Elementwise ``x`` where ``condition`` else ``y`` (scalars adopt the tensor's dtype)."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    ref = x if isinstance(x, Tensor) else y if isinstance(y, Tensor) else None
    dtype = ref.dtype if ref is not None else None

    def lift(v: Any) -> Any:
        if isinstance(v, Tensor):
            return v
        return Tensor._wrap(np.asarray(v, dtype=dtype if np.isscalar(v) else None), False)

    return ops_shape.Where.apply(cond, lift(x), lift(y))


globals().update({name: function_form(name) for name in METHOD_FUNCTIONS})
globals().update({name: reduction_form(name) for name in REDUCTIONS})

__all__ = sorted([*METHOD_FUNCTIONS, *REDUCTIONS, "cat", "concat", "stack", "where"])
