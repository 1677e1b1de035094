"""`Tensor`: an ndarray plus the bookkeeping reverse-mode autograd needs.

``Tensor.data`` is a plain ``np.ndarray``; ``Tensor.grad`` is ``None`` or an ndarray of the same
shape and dtype, accumulated **in place** (``+=``) by `backward`, so ``.grad`` may be a view into a
larger buffer (see ``tinyclipnn.clip.GradBuffer``). Ops are methods here and live as `Function`
subclasses in ``ops_*.py``; this file only routes to them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import promotion
from .dtypes import as_array
from .tensor_methods import TensorMethods


def _axis_kw(axis: Any, dim: Any) -> Any:
    return dim if axis is None else axis


class Tensor(TensorMethods):
    """An n-dimensional array that can record the ops applied to it.

    Parameters
    ----------
    data
        Array-like; a float32/float64 ndarray keeps its dtype, lists and scalars take the
        default float dtype (float32), integer data stays integer unless ``requires_grad``.
    requires_grad
        Record ops on this tensor so `backward` can fill ``.grad``.
    dtype
        Force a dtype.
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "_out_index", "_hooks", "_version",
                 "_retains_grad", "_spare_grad", "__weakref__")
    __array_priority__ = 1000  # make ndarray (op) Tensor defer to Tensor's reflected ops

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        arr = as_array(data, dtype, requires_grad)
        if requires_grad and arr.dtype.kind not in "fc":
            raise TypeError(
                f"Tensor: requires_grad=True needs a float dtype, got dtype={arr.dtype}"
            )
        self.data: np.ndarray = arr
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self._node = None
        self._out_index = 0
        self._hooks: list | None = None
        self._version = 0
        self._retains_grad = False
        self._spare_grad: np.ndarray | None = None  # a dropped .grad, for backward to refill

    @classmethod
    def _wrap(cls, arr: Any, requires_grad: bool) -> Tensor:
        """Fast constructor for op outputs (no dtype conversion)."""
        t = cls.__new__(cls)
        t.data = arr if isinstance(arr, np.ndarray) else np.asarray(arr)
        t.grad = None
        t.requires_grad = requires_grad
        t._node = None
        t._out_index = 0
        t._hooks = None
        t._version = 0
        t._retains_grad = False
        t._spare_grad = None
        return t

    # ---- attributes -------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self) -> Any:
        return self._node

    @property
    def T(self) -> Tensor:
        return self.permute(*reversed(range(self.ndim)))

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        extra = ", requires_grad=True" if self.requires_grad else ""
        if self._node is not None:
            extra = f", grad_fn=<{self._node.name}>"
        return f"Tensor({np.array2string(self.data, separator=', ')}, dtype={self.dtype}{extra})"

    def item(self) -> Any:
        return self.data.item()

    def numpy(self) -> np.ndarray:
        return self.data

    def tolist(self) -> Any:
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    __hash__ = object.__hash__  # by identity, as PyTorch: == is element-wise

    # ---- graph ------------------------------------------------------------------------
    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor._wrap(self.data, False)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.dtype.kind not in "fc":
            raise TypeError(f"requires_grad_: only float tensors can require grad, got {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on a non-leaf tensor after `backward` (leaves always keep it)."""
        self._retains_grad = True

    def register_hook(self, fn: Callable[[np.ndarray], np.ndarray | None]) -> Callable[[], None]:
        """Call ``fn(grad)`` when this tensor's gradient is computed; a non-None return value
        replaces the gradient that flows on (how a gradient is clipped mid-backprop).
        Returns a function that removes the hook."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that "
                               "doesn't require gradient")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(fn)
        hooks = self._hooks
        return lambda: hooks.remove(fn) if fn in hooks else None

    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (see `engine.backward`)."""
        from .engine import backward

        backward(self, grad, retain_graph)

    def _bump_version(self) -> None:
        self._version += 1

    # ---- in-place (no graph; for optimizers and init) ------------------------------------
    def zero_(self) -> Tensor:
        self.data[...] = 0
        self._version += 1
        return self

    def fill_(self, value: float) -> Tensor:
        self.data[...] = value
        self._version += 1
        return self

    def copy_(self, src: Any) -> Tensor:
        np.copyto(self.data, src.data if isinstance(src, Tensor) else src, casting="same_kind")
        self._version += 1
        return self

    def __setitem__(self, idx: Any, value: Any) -> None:
        if self.requires_grad and self._node is None:
            from .function import is_grad_enabled

            if is_grad_enabled():
                raise RuntimeError("a leaf Tensor that requires grad is being used in an "
                                   "in-place operation; wrap it in tinyclipnn.no_grad()")
        self.data[idx.data if isinstance(idx, Tensor) else idx] = (
            value.data if isinstance(value, Tensor) else value)
        self._version += 1

    # ---- arithmetic ---------------------------------------------------------------------
    def _pair(self, other: Any, reflected: bool = False) -> tuple[Tensor, Tensor]:
        """``(self, other)`` (or reversed) as Tensors, promoted by PyTorch's rules (`promotion`)."""
        a = self
        if isinstance(other, Tensor):
            if other.data.dtype == self.data.dtype:  # the common case: nothing to promote
                return (other, self) if reflected else (self, other)
            b = other
        elif isinstance(other, np.ndarray):
            b = Tensor._wrap(other, False)
        elif self.data.dtype.kind == "f" and type(other) in (float, int):  # fast: adopts dtype
            b = Tensor._wrap(np.asarray(other, dtype=self.data.dtype), False)
            return (b, self) if reflected else (self, b)
        else:
            dt = promotion.with_scalar(self.data.dtype, other)
            b = Tensor._wrap(np.asarray(other, dtype=dt), False)
        da, db = promotion.between(a.data.dtype, b.data.dtype)
        if da != a.data.dtype:  # only a non-float operand is ever cast: no graph to keep
            a = Tensor._wrap(a.data.astype(da), False)
        if db != b.data.dtype:
            b = Tensor._wrap(b.data.astype(db), False)
        return (b, a) if reflected else (a, b)

    def __add__(self, o: Any) -> Tensor:
        return _ew.Add.apply(*self._pair(o))

    def __radd__(self, o: Any) -> Tensor:
        return _ew.Add.apply(*self._pair(o, True))

    def __sub__(self, o: Any) -> Tensor:
        return _ew.Sub.apply(*self._pair(o))

    def __rsub__(self, o: Any) -> Tensor:
        return _ew.Sub.apply(*self._pair(o, True))

    def __mul__(self, o: Any) -> Tensor:
        return _ew.Mul.apply(*self._pair(o))

    def __rmul__(self, o: Any) -> Tensor:
        return _ew.Mul.apply(*self._pair(o, True))

    def __truediv__(self, o: Any) -> Tensor:
        return _ew.Div.apply(*_floats(self._pair(o)))

    def __rtruediv__(self, o: Any) -> Tensor:
        return _ew.Div.apply(*_floats(self._pair(o, True)))

    def __pow__(self, o: Any) -> Tensor:
        if isinstance(o, Tensor):
            return _ew.Pow.apply(*self._pair(o))
        base = self
        if promotion.with_scalar(self.data.dtype, o) != self.data.dtype:
            base = Tensor._wrap(self.data.astype(promotion.with_scalar(self.data.dtype, o)), False)
        return _ew.PowScalar.apply(base, exponent=o)

    def __rpow__(self, o: Any) -> Tensor:
        return _ew.Pow.apply(*self._pair(o, True))

    def __matmul__(self, o: Any) -> Tensor:
        return _ew.MatMul.apply(*self._pair(o))

    def __rmatmul__(self, o: Any) -> Tensor:
        return _ew.MatMul.apply(*self._pair(o, True))

    def __neg__(self) -> Tensor:
        return _ew.Neg.apply(self)

    def _as_float(self) -> Tensor:
        """Itself if float, else a constant default-float copy (integer data has no graph)."""
        if self.data.dtype.kind in "fc":
            return self
        return Tensor._wrap(promotion.floating(self.data), False)

    # ---- unary ----------------------------------------------------------------------------
    def exp(self) -> Tensor:
        return _ew.Exp.apply(self._as_float())

    def log(self) -> Tensor:
        return _ew.Log.apply(self._as_float())

    def tanh(self) -> Tensor:
        return _ew.Tanh.apply(self._as_float())

    def sigmoid(self) -> Tensor:
        return _ew.Sigmoid.apply(self._as_float())

    def relu(self) -> Tensor:
        return _ew.Relu.apply(self)

    def abs(self) -> Tensor:
        return _ew.Abs.apply(self)

    def sqrt(self) -> Tensor:
        return _ew.Sqrt.apply(self._as_float())

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        if min is None and max is None:
            raise ValueError("clamp: at least one of min or max must not be None")
        return _sh.Clamp.apply(self, lo=min, hi=max)

    clip = clamp

    # ---- reductions -----------------------------------------------------------------------
    def sum(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: bool = False) -> Tensor:
        return _red.Sum.apply(self, axis=_axis_kw(axis, dim), keepdims=keepdims or keepdim)

    def mean(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
             keepdim: bool = False) -> Tensor:
        return _red.Mean.apply(self._as_float(), axis=_axis_kw(axis, dim), keepdims=keepdims or keepdim)

    def amax(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
             keepdim: bool = False) -> Tensor:
        """Value-only max over ``axis`` (ties share the gradient), as ``torch.amax``."""
        return _red.Max.apply(self, axis=_axis_kw(axis, dim), keepdims=keepdims or keepdim)

    def softmax(self, axis: int = -1, *, dim: int | None = None) -> Tensor:
        return _red.Softmax.apply(self._as_float(), axis=axis if dim is None else dim)

    def log_softmax(self, axis: int = -1, *, dim: int | None = None) -> Tensor:
        return _red.LogSoftmax.apply(self._as_float(), axis=axis if dim is None else dim)

    # ---- shape ------------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _sh.Reshape.apply(self, shape=shape)

    view = reshape

    def flatten(self) -> Tensor:
        return self.reshape(-1)

    def unsqueeze(self, dim: int) -> Tensor:
        d = dim if dim >= 0 else dim + self.ndim + 1
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim: int | None = None) -> Tensor:
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        d = dim % self.ndim
        if self.shape[d] != 1:
            return self
        return self.reshape(self.shape[:d] + self.shape[d + 1:])

    def permute(self, *dims: Any) -> Tensor:
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return _sh.Permute.apply(self, axes=tuple(dims))

    def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
        """Swap two dimensions (PyTorch's ``transpose(dim0, dim1)``)."""
        axes = list(range(self.ndim))
        axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
        return _sh.Permute.apply(self, axes=tuple(axes))

    def __getitem__(self, idx: Any) -> Tensor:
        return _sh.GetItem.apply(self, index=_raw_index(idx))


def _floats(pair: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """True division: integer operands become the default float dtype (as PyTorch)."""
    return pair[0]._as_float(), pair[1]._as_float()


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _raw_index(idx: Any) -> Any:
    if isinstance(idx, tuple):
        return tuple(_raw(i) for i in idx)
    return _raw(idx)


def zero_grads(params: Any, set_to_none: bool = True) -> None:
    """Zero (or, with ``set_to_none``, drop) each tensor's ``.grad``.

    A ``.grad`` that is a view into a shared buffer (``clip.GradBuffer``) is always zeroed in
    place, never dropped, so the buffer stays wired to the parameters. A dropped ``.grad`` is
    kept as the tensor's spare: the next backward fills it instead of allocating a new array,
    unless anything else still refers to it (see `engine`)."""
    for p in params:
        g = p.grad
        if g is None:
            continue
        if set_to_none and g.base is None:
            p.grad = None
            p._spare_grad = g
        else:
            g[...] = 0


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Make a `Tensor` (as ``torch.tensor``); copies ``data``."""
    if isinstance(data, Tensor):
        data = data.data
    return Tensor(np.array(data, dtype=dtype, copy=True) if dtype is not None
                  else np.array(data, copy=True) if isinstance(data, np.ndarray) else data,
                  requires_grad=requires_grad)


from . import ops_elementwise as _ew  # noqa: E402
from . import ops_reduce as _red  # noqa: E402
from . import ops_shape as _sh  # noqa: E402
