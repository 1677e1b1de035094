"""`Tensor`: an ndarray plus the bookkeeping reverse-mode autograd needs.

``Tensor.data`` is a plain ``np.ndarray``; ``Tensor.grad`` is ``None`` or an ndarray of the same
shape and dtype, accumulated **in place** (``+=``) by `backward`, so ``.grad`` may be a view into a
larger buffer (see ``tinyclipnn.clip.GradBuffer``).

This file is the core every op builds on: the data, the graph bookkeeping, sizes, in-place
writes and operand promotion. The ops themselves (``x.exp()``, ``a + b``, ``x.sum(dim)``, ...)
live in ``ops_*.py``, each a `Function` subclass plus the method that calls it, attached to
`Tensor` by `tensor_method` when its module is imported (``autograd/__init__.py`` imports them
all). So the imports run one way: ``ops_*`` -> ``function`` -> ``tensor`` -> ``engine``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from . import promotion
from .dtypes import as_array
from .engine import backward as run_backward
from .grad_mode import is_grad_enabled


class Tensor:
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
        run_backward(self, grad.data if isinstance(grad, Tensor) else grad, retain_graph)

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
        np.copyto(self.data, unwrap(src), casting="same_kind")
        self._version += 1
        return self

    def __setitem__(self, idx: Any, value: Any) -> None:
        if self.requires_grad and self._node is None and is_grad_enabled():
            raise RuntimeError("a leaf Tensor that requires grad is being used in an "
                               "in-place operation; wrap it in tinyclipnn.no_grad()")
        self.data[unwrap(idx)] = unwrap(value)
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

    def _as_float(self) -> Tensor:
        """Itself if float, else a constant default-float copy (integer data has no graph)."""
        if self.data.dtype.kind in "fc":
            return self
        return Tensor._wrap(promotion.floating(self.data), False)

    # ---- sizes ----------------------------------------------------------------------------
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

    def is_floating_point(self) -> bool:
        return self.data.dtype.kind == "f"

    def cpu(self) -> Tensor:
        """Itself (everything lives in host memory); for ``x.detach().cpu().numpy()``."""
        return self


def unwrap(x: Any) -> Any:
    """``x.data`` for a Tensor, anything else unchanged (a tuple index item by item)."""
    if isinstance(x, tuple):
        return tuple(unwrap(i) for i in x)
    return x.data if isinstance(x, Tensor) else x


def as_tensor(x: Any) -> Tensor:
    """``x`` itself when it is a Tensor, else a new constant Tensor of it."""
    return x if isinstance(x, Tensor) else Tensor(x)


def constant(arr: Any) -> Tensor:
    """A constant (no-grad) Tensor around ``arr``, for results no gradient flows through
    (comparisons, indices)."""
    return Tensor._wrap(np.asarray(arr), False)


Method = TypeVar("Method", bound=Callable[..., Any])


def tensor_method(fn: Method | None = None, /, *, name: str | None = None,
                  also: tuple[str, ...] = ()) -> Any:
    """Decorator that makes ``fn`` the method ``Tensor.<name>`` (``fn``'s own name unless
    given), and ``Tensor.<alias>`` for each name in ``also``; each ops module registers the
    methods of its ops this way. A name registered twice is a ``TypeError``, so two modules
    cannot silently fight over it."""

    def register(f: Method) -> Method:
        for method_name in (name or f.__name__, *also):
            if method_name in vars(Tensor):
                raise TypeError(f"tensor_method: Tensor.{method_name} is already defined")
            setattr(Tensor, method_name, f)
        return f

    return register if fn is None else register(fn)


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
