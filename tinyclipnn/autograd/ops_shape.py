"""Shape and selection ops: reshape, permute, indexing, concat, stack, where, clamp."""

from __future__ import annotations

import numpy as np

from .function import Function
from .ops_elementwise import sum_to_shape


class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return (grad.reshape(ctx.shape),)


class Permute(Function):
    @staticmethod
    def forward(ctx, a, axes):
        if sorted(a_ % max(a.ndim, 1) for a_ in axes) != list(range(a.ndim)):
            raise ValueError(f"permute: dims {axes} are not a permutation of {a.ndim} dims")
        ctx.axes = axes
        return np.transpose(a, axes)

    @staticmethod
    def backward(ctx, grad):
        return (np.transpose(grad, np.argsort([x % grad.ndim for x in ctx.axes])),)


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice, np.integer))
               for i in items)


class GetItem(Function):
    """``x[index]``; repeated integer indices scatter-add their gradients."""

    @staticmethod
    def forward(ctx, a, index):
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        return np.asarray(a[index])

    @staticmethod
    def backward(ctx, grad):
        out = np.zeros(ctx.shape, dtype=ctx.dtype)
        if _is_basic(ctx.index):
            out[ctx.index] = grad
        else:
            np.add.at(out, ctx.index, grad)
        return (out,)


class Concat(Function):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        ctx.splits = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.split(grad, ctx.splits, axis=ctx.axis))


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        return np.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.moveaxis(grad, ctx.axis, 0))


class Where(Function):
    """``where(cond, a, b)``; ``cond`` is a constant boolean array."""

    @staticmethod
    def forward(ctx, cond, a, b):
        cond = np.asarray(cond, dtype=bool)
        ctx.save_for_backward(cond)
        ctx.shapes = (np.shape(a), np.shape(b))
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, grad):
        (cond,) = ctx.saved_tensors
        _, na, nb = ctx.needs_input_grad
        zero = np.zeros((), dtype=grad.dtype)
        ga = sum_to_shape(np.where(cond, grad, zero), ctx.shapes[0]) if na else None
        gb = sum_to_shape(np.where(cond, zero, grad), ctx.shapes[1]) if nb else None
        return None, ga, gb


class Clamp(Function):
    """Clamp into ``[lo, hi]``; the gradient passes where ``lo <= x <= hi`` (as PyTorch)."""

    @staticmethod
    def forward(ctx, a, lo=None, hi=None):
        ctx.save_for_backward(a)
        ctx.lo, ctx.hi = lo, hi
        return np.clip(a, lo, hi).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        keep = np.ones(a.shape, dtype=bool)
        if ctx.lo is not None:
            keep &= a >= ctx.lo
        if ctx.hi is not None:
            keep &= a <= ctx.hi
        return (grad * keep,)


class Expand(Function):
    """``a`` broadcast to ``shape`` without copying (``Tensor.expand``); the gradient is summed
    back over the stretched dims."""

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return (sum_to_shape(grad, ctx.shape),)


class Repeat(Function):
    """``a`` tiled ``reps`` times along each dim (``Tensor.repeat``; ``len(reps) >= a.ndim``,
    extra leading reps add dims); the gradient sums the copies."""

    @staticmethod
    def forward(ctx, a, reps):
        ctx.shape = a.shape
        ctx.reps = reps
        return np.tile(a.reshape((1,) * (len(reps) - a.ndim) + a.shape), reps)

    @staticmethod
    def backward(ctx, grad):
        reps = ctx.reps
        inner = (1,) * (len(reps) - len(ctx.shape)) + ctx.shape
        split = tuple(x for r, s in zip(reps, inner, strict=True) for x in (r, s))
        summed = grad.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return (summed.reshape(ctx.shape),)


class MaskedFill(Function):
    """``value`` where the boolean ``mask`` is True, else ``a`` (both broadcast, as
    ``torch.masked_fill``); ``value`` is a 0-dim array and gets the sum of the masked gradient."""

    @staticmethod
    def forward(ctx, a, mask, value):
        ctx.shapes = (a.shape, mask.shape)
        ctx.save_for_backward(mask)
        return np.where(mask, np.asarray(value).astype(a.dtype), a)

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        _, _, nv = ctx.needs_input_grad
        zero = np.zeros((), dtype=grad.dtype)
        ga = sum_to_shape(np.where(mask, zero, grad), ctx.shapes[0])
        gv = np.asarray(np.where(mask, grad, zero).sum(), dtype=grad.dtype) if nv else None
        return ga, None, gv
