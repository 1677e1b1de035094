"""Function forms of the ops (``tinyclipnn.tanh(x)`` as well as ``x.tanh()``), as in PyTorch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import ops_shape as _sh
from .tensor import Tensor


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def exp(x: Any) -> Tensor:
    """Element-wise e**x (``torch.exp``); integer input gives the default float dtype."""
    return _t(x).exp()


def log(x: Any) -> Tensor:
    """Element-wise natural logarithm (``torch.log``)."""
    return _t(x).log()


def tanh(x: Any) -> Tensor:
    """Element-wise hyperbolic tangent (``torch.tanh``)."""
    return _t(x).tanh()


def sigmoid(x: Any) -> Tensor:
    """Element-wise logistic function 1 / (1 + e**-x) (``torch.sigmoid``)."""
    return _t(x).sigmoid()


def relu(x: Any) -> Tensor:
    """Element-wise max(x, 0) (``torch.relu``)."""
    return _t(x).relu()


def abs(x: Any) -> Tensor:  # noqa: A001
    """Element-wise absolute value (``torch.abs``)."""
    return _t(x).abs()


def sqrt(x: Any) -> Tensor:
    """Element-wise square root (``torch.sqrt``)."""
    return _t(x).sqrt()


def softmax(x: Any, dim: int = -1) -> Tensor:
    """Softmax along ``dim`` (``torch.softmax``)."""
    return _t(x).softmax(dim)


def log_softmax(x: Any, dim: int = -1) -> Tensor:
    """Log of the softmax along ``dim``, computed stably (``torch.log_softmax``)."""
    return _t(x).log_softmax(dim)


def clamp(x: Any, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    """Element-wise clamp to [``min``, ``max``] (either may be None), as ``torch.clamp``."""
    return _t(x).clamp(min, max)


def matmul(a: Any, b: Any) -> Tensor:
    return _t(a) @ b


def _dk(dim: Any, axis: Any, keepdim: bool, keepdims: bool) -> tuple[Any, bool]:
    """The reduced dims and keep flag from PyTorch's ``dim=``/``keepdim=`` or numpy's
    ``axis=``/``keepdims=`` (either spelling works, as in PyTorch)."""
    if dim is not None and axis is not None:
        raise TypeError("give dim= or axis= (its numpy alias), not both")
    return (axis if dim is None else dim), bool(keepdim or keepdims)


def sum(x: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,  # noqa: A001
        keepdims: bool = False) -> Tensor:
    return _t(x).sum(*_dk(dim, axis, keepdim, keepdims))


def mean(x: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
         keepdims: bool = False) -> Tensor:
    return _t(x).mean(*_dk(dim, axis, keepdim, keepdims))


def max(x: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,  # noqa: A001
        keepdims: bool = False) -> Any:
    """Largest element; ``(values, indices)`` along an integer ``dim``; the element-wise
    `maximum` when ``dim`` is a tensor (``torch.max(a, b)``), as ``torch.max``."""
    return _t(x).max(*_dk(dim, axis, keepdim, keepdims))


def min(x: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,  # noqa: A001
        keepdims: bool = False) -> Any:
    """Smallest element; ``(values, indices)`` along an integer ``dim``; the element-wise
    `minimum` when ``dim`` is a tensor, as ``torch.min``."""
    return _t(x).min(*_dk(dim, axis, keepdim, keepdims))


def amax(x: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
         keepdims: bool = False) -> Tensor:
    return _t(x).amax(*_dk(dim, axis, keepdim, keepdims))


def amin(x: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
         keepdims: bool = False) -> Tensor:
    return _t(x).amin(*_dk(dim, axis, keepdim, keepdims))


def argmax(x: Any, dim: int | None = None, keepdim: bool = False, *, axis: Any = None,
           keepdims: bool = False) -> Tensor:
    return _t(x).argmax(*_dk(dim, axis, keepdim, keepdims))


def argmin(x: Any, dim: int | None = None, keepdim: bool = False, *, axis: Any = None,
           keepdims: bool = False) -> Tensor:
    return _t(x).argmin(*_dk(dim, axis, keepdim, keepdims))


def maximum(input: Any, other: Any) -> Tensor:
    """Element-wise larger of two tensors (broadcast), as ``torch.maximum``."""
    return _t(input).maximum(other)


def minimum(input: Any, other: Any) -> Tensor:
    """Element-wise smaller of two tensors (broadcast), as ``torch.minimum``."""
    return _t(input).minimum(other)


def topk(input: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:  # noqa: A002
    """``(values, indices)`` of the ``k`` largest (or smallest) along ``dim``, as ``torch.topk``."""
    return _t(input).topk(k, dim, largest, sorted)


def masked_fill(input: Any, mask: Any, value: Any) -> Tensor:
    """``value`` where ``mask`` is True, else ``input``, as ``torch.masked_fill``."""
    return _t(input).masked_fill(mask, value)


def var(x: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    """Variance over ``dim`` (all elements when None); Bessel's correction by default, as
    ``torch.var`` (``unbiased=False`` or ``correction=0`` for the population variance)."""
    return _t(x).var(dim, unbiased, keepdim, correction=correction)


def std(x: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    """Standard deviation over ``dim``; the same arguments as `var` (``torch.std``)."""
    return _t(x).std(dim, unbiased, keepdim, correction=correction)


def gather(x: Any, dim: int, index: Any) -> Tensor:
    """Values of ``x`` along ``dim`` at ``index`` (``torch.gather``)."""
    return _t(x).gather(dim, index)


def clone(x: Any) -> Tensor:
    """A copy of ``x`` that stays in the graph (``torch.clone``)."""
    return _t(x).clone()


def numel(x: Any) -> int:
    """Number of elements of ``x`` (``torch.numel``)."""
    return _t(x).numel()


def eq(a: Any, b: Any) -> Tensor:
    """Element-wise ``a == b`` as a bool tensor (``torch.eq``)."""
    return _t(a) == b


def ne(a: Any, b: Any) -> Tensor:
    """Element-wise ``a != b`` as a bool tensor (``torch.ne``)."""
    return _t(a) != b


def equal(a: Any, b: Any) -> bool:
    """True when ``a`` and ``b`` have the same shape and elements (``torch.equal``)."""
    return _t(a).equal(b)


def reshape(x: Any, *shape: Any) -> Tensor:
    """``x`` with a new shape (one entry may be -1), as ``torch.reshape``."""
    return _t(x).reshape(*shape)


def transpose(x: Any, dim0: int = -2, dim1: int = -1) -> Tensor:
    """``x`` with dims ``dim0`` and ``dim1`` swapped (``torch.transpose``)."""
    return _t(x).transpose(dim0, dim1)


def concat(tensors: Sequence[Any], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis (``torch.cat``)."""
    if len(tensors) == 0:
        raise ValueError("concat: expected a non-empty sequence of tensors")
    return _sh.Concat.apply(*[_t(x) for x in tensors], axis=axis if dim is None else dim)


cat = concat


def stack(tensors: Sequence[Any], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along a new axis (``torch.stack``)."""
    if len(tensors) == 0:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    return _sh.Stack.apply(*[_t(x) for x in tensors], axis=axis if dim is None else dim)


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """Elementwise ``x`` where ``condition`` else ``y`` (scalars adopt the tensor's dtype)."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    ref = x if isinstance(x, Tensor) else y if isinstance(y, Tensor) else None
    dtype = ref.dtype if ref is not None else None

    def lift(v: Any) -> Any:
        if isinstance(v, Tensor):
            return v
        return Tensor._wrap(np.asarray(v, dtype=dtype if np.isscalar(v) else None), False)

    return _sh.Where.apply(cond, lift(x), lift(y))
