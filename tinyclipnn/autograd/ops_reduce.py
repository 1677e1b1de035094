"""Reductions (sum, mean, max) and the normalisers softmax / log_softmax."""

from __future__ import annotations

import numpy as np

from .function import Function


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


class Softmax(Function):
    @staticmethod
    def forward(ctx, a, axis=-1):
        e = np.exp(a - a.max(axis=axis, keepdims=True))
        out = e / e.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (out * (grad - (grad * out).sum(axis=ctx.axis, keepdims=True)),)


def log_softmax_array(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """Stable ``log(softmax(a))`` on an array."""
    shifted = a - a.max(axis=axis, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=axis, keepdims=True))  # in place: one temporary less
    return shifted


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, a, axis=-1):
        out = log_softmax_array(a, axis)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (grad - np.exp(out) * grad.sum(axis=ctx.axis, keepdims=True),)
