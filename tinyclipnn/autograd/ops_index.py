"""Index-selecting ops and copies: `Gather` (``torch.gather``, also behind ``max(dim)``,
``min(dim)`` and ``topk``), `Cast` (a differentiable dtype change: ``to``, ``float()``, ...)
and `Clone`, with the `Tensor` methods that call them."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .errors import InputError, dim_arg, int_arg
from .function import Function
from .tensor import Tensor, constant, tensor_method, unwrap


class ValuesIndices(NamedTuple):
    """What ``max(dim)`` / ``min(dim)`` / ``topk`` return, as ``torch.return_types.max``."""

    values: Any
    indices: Any


def _gather_mesh(index: np.ndarray, axis: int) -> tuple[np.ndarray, ...]:
    """Full integer indices into the input for every entry of ``index`` along ``axis``."""
    mesh = list(np.indices(index.shape, sparse=True))
    mesh[axis] = index
    return tuple(mesh)


class Gather(Function):
    """``out[i][j][k] = a[i][index[i][j][k]][k]`` (for ``axis=1``), as ``torch.gather``.

    ``index`` has ``a.ndim`` dims, each no larger than ``a``'s except along ``axis``;
    repeated indices scatter-add their gradients."""

    @staticmethod
    def forward(ctx, a, index, axis):
        ctx.shape, ctx.dtype = a.shape, a.dtype
        ctx.mesh = _gather_mesh(index, axis)
        return a[ctx.mesh]

    @staticmethod
    def backward(ctx, grad):
        out = np.zeros(ctx.shape, dtype=ctx.dtype)
        np.add.at(out, ctx.mesh, grad)
        return out, None


class Cast(Function):
    """``a.astype(dtype)``; the gradient is cast back to ``a``'s dtype."""

    @staticmethod
    def forward(ctx, a, dtype):
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return (grad.astype(ctx.dtype, copy=False),)


class Clone(Function):
    """A copy with its own memory that stays in the graph (``torch.clone``)."""

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, grad):
        return (grad,)


@tensor_method
def gather(self, dim: int, index: Any) -> Tensor:
    """``out[i][j] = self[i][index[i][j]]`` for ``dim=1`` (``torch.gather``)."""
    idx = np.asarray(unwrap(index))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"gather(): index must be an integer tensor, got dtype {idx.dtype}")
    if idx.ndim != self.data.ndim:
        raise ValueError(f"gather(): index has {idx.ndim} dims but input has "
                         f"{self.data.ndim}; they must match")
    axis = dim % max(self.data.ndim, 1)
    small = all(i <= s for d, (i, s) in enumerate(zip(idx.shape, self.data.shape, strict=True))
                if d != axis)
    n = self.data.shape[axis] if self.data.ndim else 1
    if not small or (idx.size and (idx.min() < -n or idx.max() >= n)):
        raise ValueError(f"gather(): index of shape {idx.shape} with values in "
                         f"[{idx.min() if idx.size else 0}, {idx.max() if idx.size else 0}]"
                         f" does not fit input of shape {self.data.shape} along dim {dim}")
    return Gather.apply(self, idx % n if idx.size else idx, axis=axis)


@tensor_method
def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:  # noqa: A002
    """The ``k`` largest (``largest=False``: smallest) elements along ``dim`` and their
    indices, as ``torch.topk``; always sorted (allowed for ``sorted=False`` too), ties
    by lower index first, NaN counted as the largest (as PyTorch). The gradient goes to
    the selected positions."""
    k = int_arg("topk", "k", k)
    axis = dim_arg("topk", dim, self.data.ndim)
    n = self.data.shape[axis] if self.data.ndim else 1
    if not 0 <= k <= n:
        raise InputError(f"topk(): selected index k out of range (k={k}, the tensor has "
                         f"{n} elements along dim {dim})")
    if not self.data.ndim:  # a 0-dim tensor is its own top-1 (k = 0 or 1)
        values, idx = self.reshape(1).topk(k, 0, largest)
        return ValuesIndices(values.reshape(()), constant(idx.data.reshape(()))) if k else (
            ValuesIndices(values, idx))
    if largest:  # descending, ties by lower index: a stable ascending sort, read backwards
        flipped = np.argsort(np.flip(self.data, axis), axis=axis, kind="stable")
        order = n - 1 - np.flip(flipped, axis)
    else:
        order = np.argsort(self.data, axis=axis, kind="stable")
    idx = np.take(order, np.arange(k), axis=axis)
    return ValuesIndices(self.gather(axis, idx), constant(idx.astype(np.int64)))


@tensor_method
def clone(self) -> Tensor:
    """A copy with its own memory; gradients flow back through it."""
    return Clone.apply(self)


@tensor_method
def to(self, dtype: Any) -> Tensor:
    """This tensor as ``dtype`` (itself when it already is); float -> float keeps the graph,
    anything else gives a constant tensor. ``to("cpu")`` is itself."""
    if isinstance(dtype, str) and dtype == "cpu":  # the only device there is
        return self
    dt = np.dtype(dtype)
    if dt == self.data.dtype:
        return self
    if dt.kind in "fc" and self.data.dtype.kind in "fc":
        return Cast.apply(self, dtype=dt)
    return constant(self.data.astype(dt))


@tensor_method
def type_as(self, other: Any) -> Tensor:
    return self.to(other.dtype)


def _register_conversion(name: str, dtype: Any) -> None:
    """``Tensor.<name>()``: ``self.to(dtype)``, PyTorch's shorthand (``x.float()``, ``x.long()``)."""

    def convert(self) -> Tensor:
        return self.to(dtype)

    convert.__name__ = convert.__qualname__ = name
    tensor_method(convert)


for _name, _dtype in {"float": np.float32, "double": np.float64, "half": np.float16,
                      "long": np.int64, "int": np.int32, "bool": np.bool_}.items():
    _register_conversion(_name, _dtype)
