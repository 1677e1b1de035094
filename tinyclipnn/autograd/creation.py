"""Tensor constructors with PyTorch's names and dtype rules: ``zeros``, ``ones``, ``full``,
``empty``, ``arange``, ``rand``, ``randn``, ``from_numpy`` and the ``*_like`` forms.

Shapes are given as ``zeros(2, 3)`` or ``zeros((2, 3))``; float results take the default float
dtype (float32) unless ``dtype=`` says otherwise; random ones draw from the global generator
(`tinyclipnn.manual_seed`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import promotion
from .dtypes import get_default_dtype
from .random import default_generator
from .tensor import Tensor


def _shape(shape: tuple, fn: str) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"{fn}(): size must be integers, got {shape!r}")
        if s < 0:
            raise ValueError(f"{fn}(): Trying to create tensor with negative dimension {s}: "
                             f"{list(shape)}")
    return tuple(int(s) for s in shape)


def _make(arr: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor(arr, requires_grad=requires_grad)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """All zeros, as ``torch.zeros``."""
    return _make(np.zeros(_shape(size, "zeros"), dtype or get_default_dtype()), requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """All ones, as ``torch.ones``."""
    return _make(np.ones(_shape(size, "ones"), dtype or get_default_dtype()), requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uninitialised memory (here: zeros), as ``torch.empty``."""
    return zeros(*size, dtype=dtype, requires_grad=requires_grad)


def full(size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Every element ``fill_value``; the dtype follows the value (bool, int64 or the default
    float) unless given, as ``torch.full``."""
    if dtype is None:
        cat = promotion.scalar_category(fill_value)
        dtype = promotion.category_default(2 if cat is None else cat)
    shape = _shape(tuple(size) if isinstance(size, (tuple, list)) else (size,), "full")
    return _make(np.full(shape, fill_value, dtype), requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """``[start, end)`` in steps of ``step`` (``arange(n)`` is 0..n-1); int64 when every
    argument is an integer, else the default float dtype, as ``torch.arange``."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange(): step must be nonzero")
    if dtype is None:
        ints = all(promotion.scalar_category(v) in (0, 1) for v in (start, end, step))
        dtype = np.int64 if ints else get_default_dtype()
    n = max(int(np.ceil((end - start) / step)), 0)  # as torch: computed in double precision
    return _make((start + step * np.arange(n, dtype=np.float64)).astype(dtype)
                 if np.dtype(dtype).kind == "f" else np.arange(start, end, step, dtype=dtype),
                 requires_grad)


def _draw(sample: Any, fn: str, size: tuple, dtype: Any, requires_grad: bool,
          generator: np.random.Generator | None) -> Tensor:
    """``sample(generator, shape)`` (a method of ``np.random.Generator``) as a tensor."""
    gen = generator or default_generator()
    dt = np.dtype(dtype or get_default_dtype())
    return _make(sample(gen, _shape(size, fn)).astype(dt), requires_grad)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False,
         generator: np.random.Generator | None = None) -> Tensor:
    """Uniform on [0, 1), as ``torch.rand`` (numbers from numpy's generator, not PyTorch's)."""
    return _draw(np.random.Generator.random, "rand", size, dtype, requires_grad, generator)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False,
          generator: np.random.Generator | None = None) -> Tensor:
    """Standard normal, as ``torch.randn`` (numbers from numpy's generator, not PyTorch's)."""
    return _draw(np.random.Generator.standard_normal, "randn", size, dtype, requires_grad,
                 generator)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory and dtype (writes show in both), as
    ``torch.from_numpy``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy(): expected np.ndarray, got {type(array).__name__}")
    return Tensor._wrap(array, False)


def _like(fn: Any, t: Any, dtype: Any, requires_grad: bool, *args: Any) -> Tensor:
    shape = np.shape(t.data if isinstance(t, Tensor) else t)
    src = t.dtype if isinstance(t, (Tensor, np.ndarray)) else None
    return fn(shape, *args, dtype=dtype or src, requires_grad=requires_grad)


def zeros_like(input: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``input``'s shape and dtype."""
    return _like(zeros, input, dtype, requires_grad)


def ones_like(input: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones of ``input``'s shape and dtype."""
    return _like(ones, input, dtype, requires_grad)


def full_like(input: Any, fill_value: Any, dtype: Any = None,
              requires_grad: bool = False) -> Tensor:
    """``fill_value`` in ``input``'s shape and dtype."""
    return _like(full, input, dtype, requires_grad, fill_value)


def rand_like(input: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """`rand` with the shape (and, unless given, the dtype) of ``input``."""
    return _like(rand, input, dtype, requires_grad)


def randn_like(input: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """`randn` with the shape (and, unless given, the dtype) of ``input``."""
    return _like(randn, input, dtype, requires_grad)
