"""Reductions (sum, mean, max, min, var, std, argmax) and the normalisers softmax /
log_softmax: their `Function` classes and the `Tensor` methods that call them."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

import numpy as np

from . import promotion
from .function import Function
from .ops_index import ValuesIndices
from .tensor import Tensor, constant, tensor_method


def _norm_axes(axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(sorted(a % ndim if ndim else 0 for a in axes))


def expand_reduced(grad: np.ndarray, shape: tuple[int, ...], axes, keepdims: bool) -> np.ndarray:
    """Broadcast the gradient of a reduction back over the reduced ``axes`` of ``shape``."""
    if not keepdims and grad.ndim:
        grad = np.expand_dims(grad, axes)
    return np.broadcast_to(grad, shape)


class Sum(Function):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, _norm_axes(axis, a.ndim), keepdims
        return np.asarray(a.sum(axis=ctx.axes, keepdims=keepdims))

    @staticmethod
    def backward(ctx, grad):
        return (expand_reduced(grad, ctx.shape, ctx.axes, ctx.keepdims),)


class Mean(Function):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, _norm_axes(axis, a.ndim), keepdims
        ctx.count = int(np.prod([a.shape[i] for i in ctx.axes])) if a.ndim else 1
        return np.asarray(a.mean(axis=ctx.axes, keepdims=keepdims))

    @staticmethod
    def backward(ctx, grad):
        g = grad / np.asarray(ctx.count, dtype=grad.dtype) if ctx.count else grad
        return (expand_reduced(g, ctx.shape, ctx.axes, ctx.keepdims),)


class Max(Function):
    """Max over ``axis``; the gradient is split evenly between tied maxima (as ``torch.amax``)."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        axes = _norm_axes(axis, a.ndim)
        if a.size == 0:
            raise ValueError(f"max: cannot reduce an empty tensor of shape {a.shape}")
        out = np.asarray(a.max(axis=axes, keepdims=True))
        ctx.save_for_backward(a, out)
        ctx.axes, ctx.keepdims = axes, keepdims
        return out if keepdims else np.asarray(out.squeeze(axis=axes) if a.ndim else out)

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        mask = a == out
        count = mask.sum(axis=ctx.axes, keepdims=True)
        g = grad if ctx.keepdims or not a.ndim else np.expand_dims(grad, ctx.axes)
        return (mask * (g / count).astype(a.dtype, copy=False),)


def softmax_array(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """``softmax(a)`` along ``axis`` on an array (shifted by the max: no overflow)."""
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax_array(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """Stable ``log(softmax(a))`` on an array."""
    shifted = a - a.max(axis=axis, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=axis, keepdims=True))  # in place: one temporary less
    return shifted


class _Normaliser(Function):
    """``of_array(a, axis)``, saving its output (both gradients are written in it)."""

    of_array: Callable[[np.ndarray, int], np.ndarray]

    @classmethod
    def forward(cls, ctx, a, axis=-1):
        out = cls.of_array(a, axis)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out


class Softmax(_Normaliser):
    of_array = staticmethod(softmax_array)

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (out * (grad - (grad * out).sum(axis=ctx.axis, keepdims=True)),)


class LogSoftmax(_Normaliser):
    of_array = staticmethod(log_softmax_array)

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (grad - np.exp(out) * grad.sum(axis=ctx.axis, keepdims=True),)


# ---- the Tensor methods: PyTorch's ``dim=``/``keepdim=`` or numpy's ``axis=``/``keepdims=`` ----
def _dim(axis: Any, dim: Any) -> Any:
    return dim if axis is None else axis


@tensor_method
def sum(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,  # noqa: A001
        keepdim: bool = False) -> Tensor:
    """Sum over ``dim`` (all elements when None), as ``torch.sum``."""
    return Sum.apply(self, axis=_dim(axis, dim), keepdims=keepdims or keepdim)


@tensor_method
def mean(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
         keepdim: bool = False) -> Tensor:
    """Mean over ``dim`` (all elements when None), as ``torch.mean``."""
    return Mean.apply(self._as_float(), axis=_dim(axis, dim), keepdims=keepdims or keepdim)


@tensor_method
def amax(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
         keepdim: bool = False) -> Tensor:
    """Value-only max over ``axis`` (ties share the gradient), as ``torch.amax``."""
    return Max.apply(self, axis=_dim(axis, dim), keepdims=keepdims or keepdim)


@tensor_method
def amin(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
         keepdim: bool = False) -> Tensor:
    """Value-only min over ``axis`` (ties share the gradient), as ``torch.amin``."""
    return -((-self).amax(_dim(axis, dim), keepdims or keepdim))


def _extreme(self: Tensor, d: Any, keepdim: bool, largest: bool) -> Any:
    """``max``/``min``: element-wise against a tensor ``d``, ``(values, indices)`` along an
    integer ``d``, else the value-only reduction over ``d``."""
    if isinstance(d, Tensor):  # torch.max(input, other): the element-wise maximum
        return self.maximum(d) if largest else self.minimum(d)
    if not isinstance(d, (int, np.integer)):
        return self.amax(d, keepdim) if largest else self.amin(d, keepdim)
    dim = int(d)
    if self.data.size == 0:
        raise ValueError(f"max()/min(): cannot reduce an empty tensor of shape "
                         f"{self.data.shape} along dim {dim}")
    arg = np.argmax if largest else np.argmin
    idx = arg(self.data, axis=dim, keepdims=True) if self.data.ndim else np.asarray(0)
    values = self.gather(dim, idx) if self.data.ndim else self.clone()
    if not keepdim and self.data.ndim:
        values, idx = values.squeeze(dim), idx.squeeze(dim)
    return ValuesIndices(values, constant(idx.astype(np.int64)))


@tensor_method
def max(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,  # noqa: A001
        keepdim: bool = False) -> Any:
    """Largest element (ties share the gradient), or with an integer ``dim``
    ``(values, indices)`` (gradient to the first maximum's position), as ``torch.max``;
    the element-wise `maximum` when ``dim`` is a tensor (``torch.max(a, b)``)."""
    return _extreme(self, _dim(axis, dim), keepdims or keepdim, largest=True)


@tensor_method
def min(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,  # noqa: A001
        keepdim: bool = False) -> Any:
    """Smallest element, or with an integer ``dim`` ``(values, indices)``, as ``torch.min``;
    the element-wise `minimum` when ``dim`` is a tensor."""
    return _extreme(self, _dim(axis, dim), keepdims or keepdim, largest=False)


def _index_of(self: Tensor, pick: Callable[..., np.ndarray], axis: Any, keepdims: bool) -> Tensor:
    return constant(pick(self.data, axis=axis, keepdims=keepdims).astype(np.int64))


@tensor_method
def argmax(self, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
           keepdim: bool = False) -> Tensor:
    """Index of the largest element (of the flattened tensor when ``dim`` is None)."""
    return _index_of(self, np.argmax, _dim(axis, dim), keepdims or keepdim)


@tensor_method
def argmin(self, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
           keepdim: bool = False) -> Tensor:
    """Index of the smallest element (of the flattened tensor when ``dim`` is None)."""
    return _index_of(self, np.argmin, _dim(axis, dim), keepdims or keepdim)


@tensor_method
def var(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Variance ``sum((x - mean)^2) / (N - correction)``; ``correction`` defaults to 1
    (Bessel), ``unbiased=False`` means 0, as ``torch.var``."""
    if correction is None:
        correction = 0 if unbiased is False else 1
    elif unbiased is not None:
        raise ValueError("var(): give either unbiased= or correction=, not both")
    d = _dim(axis, dim)
    x = self if self.data.dtype.kind in "fc" else self.to(promotion.floating(self.data).dtype)
    centred = x - x.mean(d, keepdims=True)
    axes = range(x.ndim) if d is None else (d if isinstance(d, (tuple, list)) else (d,))
    n = int(np.prod([x.shape[a] for a in axes])) if x.ndim else 1
    denominator = builtins.max(n - correction, 0)  # builtins: `max` here is the method above
    return (centred * centred).sum(d, keepdims or keepdim) / denominator


@tensor_method
def std(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Standard deviation, ``sqrt(var(...))`` with the same arguments as `var` (``torch.std``)."""
    return self.var(dim, unbiased, keepdim, correction=correction, axis=axis,
                    keepdims=keepdims).sqrt()


@tensor_method
def softmax(self, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """Softmax along ``dim`` (``torch.softmax``)."""
    return Softmax.apply(self._as_float(), axis=axis if dim is None else dim)


@tensor_method
def log_softmax(self, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """Log of the softmax along ``dim``, computed stably (``torch.log_softmax``)."""
    return LogSoftmax.apply(self._as_float(), axis=axis if dim is None else dim)
