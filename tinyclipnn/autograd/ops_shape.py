"""Shape and selection ops (reshape, permute, indexing, concat, stack, where, clamp, expand,
repeat, masked_fill): their `Function` classes and the `Tensor` methods that call them."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import promotion
from .errors import InputError, size_args
from .function import Function
from .ops_elementwise import sum_to_shape
from .tensor import Tensor, constant, tensor_method, unwrap


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


# ---- the Tensor methods ---------------------------------------------------------------------
@tensor_method(also=("view",))
def reshape(self, *shape: Any) -> Tensor:
    """``self`` with a new shape (one entry may be -1), as ``torch.reshape``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return Reshape.apply(self, shape=shape)


@tensor_method
def flatten(self) -> Tensor:
    return self.reshape(-1)


@tensor_method
def unsqueeze(self, dim: int) -> Tensor:
    d = dim if dim >= 0 else dim + self.ndim + 1
    return self.reshape(self.shape[:d] + (1,) + self.shape[d:])


@tensor_method
def squeeze(self, dim: int | None = None) -> Tensor:
    if dim is None:
        return self.reshape(tuple(s for s in self.shape if s != 1))
    d = dim % self.ndim
    if self.shape[d] != 1:
        return self
    return self.reshape(self.shape[:d] + self.shape[d + 1:])


@tensor_method
def permute(self, *dims: Any) -> Tensor:
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    return Permute.apply(self, axes=tuple(dims))


@tensor_method
def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
    """Swap two dimensions (PyTorch's ``transpose(dim0, dim1)``)."""
    axes = list(range(self.ndim))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return Permute.apply(self, axes=tuple(axes))


@tensor_method
def __getitem__(self, idx: Any) -> Tensor:
    return GetItem.apply(self, index=unwrap(idx))


@tensor_method(also=("clip",))
def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    """Element-wise clamp to [``min``, ``max``] (either may be None), as ``torch.clamp``."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min or max must not be None")
    return Clamp.apply(self, lo=min, hi=max)


@tensor_method
def expand(self, *sizes: Any) -> Tensor:
    """A view broadcast to ``sizes`` (``-1`` keeps a dim; new dims go in front; only
    size-1 dims stretch), as ``torch.expand``; the gradient sums the copies."""
    sizes = size_args("expand", sizes)
    shape = self.data.shape
    if len(sizes) < len(shape):
        raise InputError(f"expand(): the number of sizes provided ({len(sizes)}) must be "
                         f"greater or equal to the number of dimensions in the tensor "
                         f"({len(shape)}); sizes={list(sizes)}, tensor shape {list(shape)}")
    lead = len(sizes) - len(shape)
    target = []
    for i, s in enumerate(sizes):
        own = shape[i - lead] if i >= lead else None
        if s == -1 and own is None:
            raise InputError(f"expand(): The expanded size of the tensor (-1) isn't allowed "
                             f"in a leading, non-existing dimension {i}")
        if s == -1:
            s = own
        if s < 0 or (own is not None and own != 1 and own != s):
            raise InputError(f"expand(): The expanded size of the tensor ({s}) must match the "
                             f"existing size ({own}) at non-singleton dimension {i}.  Target "
                             f"sizes: {list(sizes)}.  Tensor sizes: {list(shape)}")
        target.append(s)
    return Expand.apply(self, shape=tuple(target))


@tensor_method
def expand_as(self, other: Any) -> Tensor:
    """``self.expand(other.size())``."""
    return self.expand(tuple(np.shape(unwrap(other))))


@tensor_method
def repeat(self, *sizes: Any) -> Tensor:
    """``self`` tiled ``sizes[i]`` times along dim i (extra leading sizes add dims), as
    ``torch.Tensor.repeat`` (numpy's ``tile``, not ``repeat``)."""
    reps = size_args("repeat", sizes)
    if len(reps) < self.data.ndim:
        raise InputError(f"repeat(): Number of dimensions of repeat dims ({len(reps)}) can "
                         f"not be smaller than number of dimensions of tensor "
                         f"({self.data.ndim})")
    if any(r < 0 for r in reps):
        raise InputError(f"repeat(): repeats must be >= 0, got {list(reps)}")
    return Repeat.apply(self, reps=reps)


@tensor_method
def masked_fill(self, mask: Any, value: Any) -> Tensor:
    """``value`` where the boolean ``mask`` is True, ``self`` elsewhere (broadcast
    together, as ``torch.masked_fill``); ``value`` is a number or a 0-dim tensor (which then
    gets a gradient too)."""
    m = np.asarray(unwrap(mask))
    if m.dtype != np.bool_:
        raise InputError(f"masked_fill(): only supports boolean masks, but got mask with "
                         f"dtype {m.dtype}")
    try:
        np.broadcast_shapes(m.shape, self.data.shape)
    except ValueError:
        raise InputError(f"masked_fill(): mask of shape {list(m.shape)} does not broadcast "
                         f"with the tensor's shape {list(self.data.shape)}") from None
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise InputError(f"masked_fill(): only supports a 0-dimensional value tensor, "
                             f"but got tensor with {value.ndim} dimension(s).")
    elif promotion.scalar_category(value) is None:
        raise TypeError(f"masked_fill(): value must be a number or a 0-dim tensor, got "
                        f"{type(value).__name__}")
    else:
        value = constant(np.asarray(value))
    return MaskedFill.apply(self, m, value)
