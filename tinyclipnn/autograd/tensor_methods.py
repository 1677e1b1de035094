"""The PyTorch-style `Tensor` methods beyond the arithmetic core: comparisons, dtype
conversions, sizes, ``min``/``max`` with indices, ``argmax``/``argmin``, ``var``/``std``,
``gather`` and ``clone``. Mixed into `Tensor` (``tensor.py`` stays the core)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from . import promotion


def _const(arr: Any) -> Any:
    """A constant (no-grad) Tensor around ``arr``."""
    from .tensor import Tensor

    return Tensor._wrap(np.asarray(arr), False)


def _raw(x: Any) -> Any:
    from .tensor import Tensor

    return x.data if isinstance(x, Tensor) else x


def _dim_arg(axis: Any, dim: Any) -> Any:
    return dim if axis is None else axis


class ValuesIndices(NamedTuple):
    """What ``max(dim)`` / ``min(dim)`` return, as ``torch.return_types.max``."""

    values: Any
    indices: Any


class TensorMethods:
    """Mixin of `Tensor`; every method returns a new Tensor (nothing is modified)."""

    __slots__ = ()
    data: np.ndarray

    # ---- comparisons: element-wise bool tensors; hashing stays by identity (as PyTorch) ----
    def __eq__(self, o: Any) -> Any:  # type: ignore[override]
        return _const(self.data == _raw(o))

    def __ne__(self, o: Any) -> Any:  # type: ignore[override]
        return _const(self.data != _raw(o))

    def __lt__(self, o: Any) -> Any:
        return _const(self.data < _raw(o))

    def __le__(self, o: Any) -> Any:
        return _const(self.data <= _raw(o))

    def __gt__(self, o: Any) -> Any:
        return _const(self.data > _raw(o))

    def __ge__(self, o: Any) -> Any:
        return _const(self.data >= _raw(o))

    __hash__ = object.__hash__
    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def equal(self, o: Any) -> bool:
        """True when shapes and every element agree (``torch.equal``)."""
        other = _raw(o)
        return self.data.shape == np.shape(other) and bool(np.all(self.data == other))

    # ---- sizes -------------------------------------------------------------------------
    def numel(self) -> int:
        """Number of elements."""
        return int(self.data.size)

    def dim(self) -> int:
        """Number of dimensions (``ndim``)."""
        return self.data.ndim

    def size(self, dim: int | None = None) -> Any:
        """The shape tuple, or one dimension's length (``x.size(0)``)."""
        if dim is None:
            return self.data.shape
        return self.data.shape[dim]

    # ---- dtype conversions (differentiable between float dtypes) --------------------------
    def to(self, dtype: Any) -> Any:
        """This tensor as ``dtype`` (itself when it already is); float -> float keeps the graph,
        anything else gives a constant tensor. ``to("cpu")`` is itself."""
        from . import ops_index

        if isinstance(dtype, str) and dtype == "cpu":  # the only device there is
            return self
        dt = np.dtype(dtype)
        if dt == self.data.dtype:
            return self
        if dt.kind in "fc" and self.data.dtype.kind in "fc":
            return ops_index.Cast.apply(self, dtype=dt)
        return _const(self.data.astype(dt))

    def type_as(self, other: Any) -> Any:
        return self.to(other.dtype)

    def float(self) -> Any:
        return self.to(np.float32)

    def double(self) -> Any:
        return self.to(np.float64)

    def half(self) -> Any:
        return self.to(np.float16)

    def long(self) -> Any:
        return self.to(np.int64)

    def int(self) -> Any:
        return self.to(np.int32)

    def bool(self) -> Any:
        return self.to(np.bool_)

    def cpu(self) -> Any:
        """Itself (everything lives in host memory); for ``x.detach().cpu().numpy()``."""
        return self

    def is_floating_point(self) -> bool:
        return self.data.dtype.kind == "f"

    def clone(self) -> Any:
        """A copy with its own memory; gradients flow back through it."""
        from . import ops_index

        return ops_index.Clone.apply(self)

    # ---- selections and reductions ------------------------------------------------------
    def gather(self, dim: int, index: Any) -> Any:
        """``out[i][j] = self[i][index[i][j]]`` for ``dim=1`` (``torch.gather``)."""
        from . import ops_index

        idx = np.asarray(_raw(index))
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
        return ops_index.Gather.apply(self, idx % n if idx.size else idx, axis=axis)

    def max(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: bool = False) -> Any:
        """Largest element (ties share the gradient), or with an integer ``dim``
        ``(values, indices)`` (gradient to the first maximum's position), as ``torch.max``."""
        d = _dim_arg(axis, dim)
        if isinstance(d, (int, np.integer)):
            return self._select(np.argmax, int(d), keepdims or keepdim)
        return self.amax(d, keepdims or keepdim)

    def min(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: bool = False) -> Any:
        """Smallest element, or with an integer ``dim`` ``(values, indices)``, as ``torch.min``."""
        d = _dim_arg(axis, dim)
        if isinstance(d, (int, np.integer)):
            return self._select(np.argmin, int(d), keepdims or keepdim)
        return self.amin(d, keepdims or keepdim)

    def amin(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
             keepdim: bool = False) -> Any:
        """Value-only min over ``axis`` (ties share the gradient), as ``torch.amin``."""
        return -((-self).amax(_dim_arg(axis, dim), keepdims or keepdim))

    def _select(self, arg: Any, dim: int, keepdim: bool) -> ValuesIndices:
        if self.data.size == 0:
            raise ValueError(f"max()/min(): cannot reduce an empty tensor of shape "
                             f"{self.data.shape} along dim {dim}")
        idx = arg(self.data, axis=dim, keepdims=True) if self.data.ndim else np.asarray(0)
        values = self.gather(dim, idx) if self.data.ndim else self.clone()
        if not keepdim and self.data.ndim:
            values, idx = values.squeeze(dim), idx.squeeze(dim)
        return ValuesIndices(values, _const(idx.astype(np.int64)))

    def argmax(self, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
               keepdim: bool = False) -> Any:
        """Index of the largest element (of the flattened tensor when ``dim`` is None)."""
        return _const(np.argmax(self.data, axis=_dim_arg(axis, dim),
                                keepdims=keepdims or keepdim).astype(np.int64))

    def argmin(self, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
               keepdim: bool = False) -> Any:
        """Index of the smallest element (of the flattened tensor when ``dim`` is None)."""
        return _const(np.argmin(self.data, axis=_dim_arg(axis, dim),
                                keepdims=keepdims or keepdim).astype(np.int64))

    def var(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: float | None = None, axis: Any = None, keepdims: bool = False) -> Any:
        """Variance ``sum((x - mean)^2) / (N - correction)``; ``correction`` defaults to 1
        (Bessel), ``unbiased=False`` means 0, as ``torch.var``."""
        if correction is None:
            correction = 0 if unbiased is False else 1
        elif unbiased is not None:
            raise ValueError("var(): give either unbiased= or correction=, not both")
        d = _dim_arg(axis, dim)
        x = self if self.data.dtype.kind in "fc" else self.to(promotion.floating(self.data).dtype)
        centred = x - x.mean(d, keepdims=True)
        axes = range(x.ndim) if d is None else (d if isinstance(d, (tuple, list)) else (d,))
        n = int(np.prod([x.shape[a] for a in axes])) if x.ndim else 1
        return (centred * centred).sum(d, keepdims or keepdim) / max(n - correction, 0)

    def std(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: float | None = None, axis: Any = None, keepdims: bool = False) -> Any:
        """Standard deviation, ``sqrt(var(...))`` with the same arguments as `var`."""
        return self.var(dim, unbiased, keepdim, correction=correction, axis=axis,
                        keepdims=keepdims).sqrt()
