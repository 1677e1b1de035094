"""The PyTorch-style `Tensor` methods beyond the arithmetic core: comparisons, dtype
conversions, sizes, ``min``/``max`` with indices, ``argmax``/``argmin``, ``var``/``std``,
``gather``, ``clone``, ``topk``, ``maximum``/``minimum``, ``expand``, ``repeat``,
``masked_fill`` and ``multinomial``. Mixed into `Tensor` (``tensor.py`` stays the core)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from . import promotion
from .errors import InputError, dim_arg, int_arg, size_args


def _const(arr: Any) -> Any:
    """A constant (no-grad) Tensor around ``arr``."""
    from .tensor import Tensor

    return Tensor._wrap(np.asarray(arr), False)


def _raw(x: Any) -> Any:
    from .tensor import Tensor

    return x.data if isinstance(x, Tensor) else x


def _dim_arg(axis: Any, dim: Any) -> Any:
    return dim if axis is None else axis


def _is_tensor(x: Any) -> bool:
    from .tensor import Tensor

    return isinstance(x, Tensor)


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
        if _is_tensor(d):  # torch.max(input, other): the element-wise maximum
            return self.maximum(d)
        if isinstance(d, (int, np.integer)):
            return self._select(np.argmax, int(d), keepdims or keepdim)
        return self.amax(d, keepdims or keepdim)

    def min(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: bool = False) -> Any:
        """Smallest element, or with an integer ``dim`` ``(values, indices)``, as ``torch.min``."""
        d = _dim_arg(axis, dim)
        if _is_tensor(d):  # torch.min(input, other): the element-wise minimum
            return self.minimum(d)
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

    # ---- PyTorch habits: selection, broadcasting, filling, sampling --------------------------
    def maximum(self, other: Any) -> Any:
        """Element-wise larger of ``self`` and the tensor ``other`` (broadcast; promoted as
        arithmetic; half the gradient to each at a tie), as ``torch.maximum``."""
        from . import ops_elementwise

        return ops_elementwise.Maximum.apply(*self._pair(_tensor_operand("maximum", other)))

    def minimum(self, other: Any) -> Any:
        """Element-wise smaller of ``self`` and the tensor ``other``, as ``torch.minimum``."""
        from . import ops_elementwise

        return ops_elementwise.Minimum.apply(*self._pair(_tensor_operand("minimum", other)))

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
            return ValuesIndices(values.reshape(()), _const(idx.data.reshape(()))) if k else (
                ValuesIndices(values, idx))
        if largest:  # descending, ties by lower index: a stable ascending sort, read backwards
            flipped = np.argsort(np.flip(self.data, axis), axis=axis, kind="stable")
            order = n - 1 - np.flip(flipped, axis)
        else:
            order = np.argsort(self.data, axis=axis, kind="stable")
        idx = np.take(order, np.arange(k), axis=axis)
        return ValuesIndices(self.gather(axis, idx), _const(idx.astype(np.int64)))

    def expand(self, *sizes: Any) -> Any:
        """A view broadcast to ``sizes`` (``-1`` keeps a dim; new dims go in front; only
        size-1 dims stretch), as ``torch.expand``; the gradient sums the copies."""
        from . import ops_shape

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
        return ops_shape.Expand.apply(self, shape=tuple(target))

    def expand_as(self, other: Any) -> Any:
        """``self.expand(other.size())``."""
        return self.expand(tuple(np.shape(_raw(other))))

    def repeat(self, *sizes: Any) -> Any:
        """``self`` tiled ``sizes[i]`` times along dim i (extra leading sizes add dims), as
        ``torch.Tensor.repeat`` (numpy's ``tile``, not ``repeat``)."""
        from . import ops_shape

        reps = size_args("repeat", sizes)
        if len(reps) < self.data.ndim:
            raise InputError(f"repeat(): Number of dimensions of repeat dims ({len(reps)}) can "
                             f"not be smaller than number of dimensions of tensor "
                             f"({self.data.ndim})")
        if any(r < 0 for r in reps):
            raise InputError(f"repeat(): repeats must be >= 0, got {list(reps)}")
        return ops_shape.Repeat.apply(self, reps=reps)

    def masked_fill(self, mask: Any, value: Any) -> Any:
        """``value`` where the boolean ``mask`` is True, ``self`` elsewhere (broadcast
        together, as ``torch.masked_fill``); ``value`` is a number or a 0-dim tensor (which then
        gets a gradient too)."""
        from . import ops_shape

        m = np.asarray(_raw(mask))
        if m.dtype != np.bool_:
            raise InputError(f"masked_fill(): only supports boolean masks, but got mask with "
                             f"dtype {m.dtype}")
        try:
            np.broadcast_shapes(m.shape, self.data.shape)
        except ValueError:
            raise InputError(f"masked_fill(): mask of shape {list(m.shape)} does not broadcast "
                             f"with the tensor's shape {list(self.data.shape)}") from None
        if _is_tensor(value):
            if value.ndim != 0:
                raise InputError(f"masked_fill(): only supports a 0-dimensional value tensor, "
                                 f"but got tensor with {value.ndim} dimension(s).")
        elif promotion.scalar_category(value) is None:
            raise TypeError(f"masked_fill(): value must be a number or a 0-dim tensor, got "
                            f"{type(value).__name__}")
        else:
            value = _const(np.asarray(value))
        return ops_shape.MaskedFill.apply(self, m, value)

    def multinomial(self, num_samples: int, replacement: bool = False, *,
                    generator: Any = None) -> Any:
        """Indices drawn from the categories weighted by this tensor's rows (see
        ``tinyclipnn.multinomial``)."""
        from .sampling import multinomial

        return multinomial(self, num_samples, replacement, generator=generator)


def _tensor_operand(fn: str, other: Any) -> Any:
    """``other`` for a binary op that, as in PyTorch, takes tensors (and arrays) only."""
    if _is_tensor(other) or isinstance(other, np.ndarray):
        return other
    raise TypeError(f"{fn}(): argument 'other' must be Tensor, not {type(other).__name__}")
