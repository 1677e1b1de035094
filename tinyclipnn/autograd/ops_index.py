"""Index-selecting ops: `Gather` (``torch.gather``, also behind ``max(dim)`` / ``min(dim)``) and
`Cast` / `Clone` (differentiable dtype change and copy)."""

from __future__ import annotations

import numpy as np

from .function import Function


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
