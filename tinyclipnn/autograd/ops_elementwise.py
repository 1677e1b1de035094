"""Element-wise ops, comparisons and the matrix product, with numpy broadcasting in both
operands: each op's `Function` and the `Tensor` methods that call it (``a + b``, ``x.exp()``,
``a @ b``, ``x == y``, ``x.maximum(y)``, ...).

`sum_to_shape` is the one place where a broadcast gradient is summed back to an input's shape.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from . import promotion
from .function import Function
from .tensor import Tensor, constant, tensor_method, unwrap


def sum_to_shape(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving ``shape``."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, s in enumerate(shape) if s == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (a.shape, b.shape)
        return a + b

    @staticmethod
    def backward(ctx, grad):
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        return (sum_to_shape(grad, sa) if na else None, sum_to_shape(grad, sb) if nb else None)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (a.shape, b.shape)
        return a - b

    @staticmethod
    def backward(ctx, grad):
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        return (sum_to_shape(grad, sa) if na else None, sum_to_shape(-grad, sb) if nb else None)


class Mul(Function):
    """``a * b``. For ``x * x`` (one tensor on both sides: squares, ``diff * diff`` in a loss)
    backward returns the whole gradient ``2 * grad * x`` for the first input and None for the
    second: one array instead of two plus their sum (bit-identical, as ``y + y == 2 * y``)."""

    @classmethod
    def apply(cls, a: Any, b: Any) -> Any:
        return super().apply(a, b, square=a is b and isinstance(a, Tensor))

    @staticmethod
    def forward(ctx, a, b, square=False):
        ctx.save_for_backward(a, b)
        ctx.square = square
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        if ctx.square and na:
            g = grad * a
            g += g
            return g, None
        return (sum_to_shape(grad * b, a.shape) if na else None,
                sum_to_shape(grad * a, b.shape) if nb else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = sum_to_shape(grad / b, a.shape) if na else None
        gb = sum_to_shape(-grad * a / (b * b), b.shape) if nb else None
        return ga, gb


class PowScalar(Function):
    """``x ** c`` for a Python number ``c``."""

    @staticmethod
    def forward(ctx, a, exponent):
        ctx.save_for_backward(a)
        ctx.exponent = exponent
        return a ** np.asarray(exponent, dtype=a.dtype)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        c = ctx.exponent
        if c == 0:
            return (np.zeros_like(a),)
        return (grad * (c * a ** np.asarray(c - 1, dtype=a.dtype)),)


class Pow(Function):
    """``a ** b`` with both operands tensors (broadcasting)."""

    @staticmethod
    def forward(ctx, a, b):
        out = a ** b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = sum_to_shape(grad * b * a ** (b - 1), a.shape) if na else None
        gb = None
        if nb:
            with np.errstate(divide="ignore", invalid="ignore"):
                logs = np.where(a > 0, np.log(np.where(a > 0, a, 1)), 0)
            gb = sum_to_shape(grad * out * logs, b.shape)
        return ga, gb


def _folds(a: np.ndarray, b: np.ndarray) -> bool:
    """True when ``a @ b`` is a stack of matrices times one matrix: (..., M, K) @ (K, N), done
    as one 2-D GEMM over all of ``a``'s rows (numpy loops over the stack: one BLAS call per
    matrix, 1.5-4x slower for a (32, 64, 128) @ (128, 96) product)."""
    return a.ndim > 2 and b.ndim == 2


def as_rows(a: np.ndarray) -> np.ndarray:
    """``a`` (..., K) as a 2-D (N, K) array for one GEMM: a view when its leading dims fold into
    one, else a C-contiguous copy (e.g. a batch_first RNN output, a transposed view)."""
    return a.reshape(math.prod(a.shape[:-1]), a.shape[-1])


class MatMul(Function):
    """``a @ b`` with numpy's rules: 1-D operands promoted, leading batch dims broadcast."""

    @staticmethod
    def forward(ctx, a, b):
        if _folds(a, b):
            a2 = as_rows(a)
            ctx.save_for_backward(a2, b)
            ctx.a_shape = a.shape
            return (a2 @ b).reshape(a.shape[:-1] + b.shape[1:])
        ctx.save_for_backward(a, b)
        ctx.a_shape = None
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        if ctx.a_shape is not None:  # folded: a is (N, K), grad (..., M, N_out)
            g2 = as_rows(grad)
            return ((g2 @ b.T).reshape(ctx.a_shape) if na else None,
                    a.T @ g2 if nb else None)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = grad
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        ga = gb = None
        if na:
            ga = g2 @ np.swapaxes(b2, -1, -2)
            ga = sum_to_shape(ga, a2.shape).reshape(a.shape)
        if nb:
            gb = np.swapaxes(a2, -1, -2) @ g2
            gb = sum_to_shape(gb, b2.shape).reshape(b.shape)
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        return (-grad,)


class _OneArray(Function):
    """``of_array(a)``, one element at a time. Forward saves the output (``saves = "output"``)
    or the input (``"input"``): whichever the op's derivative is written in."""

    of_array: Callable[[np.ndarray], np.ndarray]
    saves = "output"

    @classmethod
    def forward(cls, ctx, a):
        out = cls.of_array(a)
        ctx.save_for_backward(out if cls.saves == "output" else a)
        return out


class Exp(_OneArray):
    of_array = np.exp

    @staticmethod
    def backward(ctx, grad):
        return (grad * ctx.saved_tensors[0],)  # d/dx e**x = e**x


class Log(_OneArray):
    of_array, saves = np.log, "input"

    @staticmethod
    def backward(ctx, grad):
        return (grad / ctx.saved_tensors[0],)


class Tanh(_OneArray):
    of_array = np.tanh

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (grad * (1 - out * out),)


def sigmoid_array(a: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function on an array (no overflow warnings)."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


class Sigmoid(_OneArray):
    of_array = staticmethod(sigmoid_array)

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return (grad * out * (1 - out),)


class Relu(_OneArray):
    saves = "input"

    @staticmethod
    def of_array(a):
        return np.maximum(a, 0)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return (grad * (a > 0),)


class Abs(_OneArray):
    of_array, saves = np.abs, "input"

    @staticmethod
    def backward(ctx, grad):
        return (grad * np.sign(ctx.saved_tensors[0]),)


class Sqrt(_OneArray):
    of_array = np.sqrt

    @staticmethod
    def backward(ctx, grad):
        return (grad / (2 * ctx.saved_tensors[0]),)


class _Pick(Function):
    """The element-wise pick ``pick(a, b)`` of two broadcast operands (NaN propagates); the
    gradient goes to the operand that ``beats`` the other, half to each at a tie (PyTorch's
    rule for ``maximum`` / ``minimum``)."""

    pick: np.ufunc
    beats: np.ufunc

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.save_for_backward(a, b)
        return cls.pick(a, b)

    @classmethod
    def backward(cls, ctx, grad):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        a_wins, tie = cls.beats(a, b), a == b
        half = grad * np.asarray(0.5, dtype=grad.dtype)
        zero = np.zeros((), dtype=grad.dtype)
        ga = sum_to_shape(np.where(tie, half, np.where(a_wins, grad, zero)), a.shape) if na else None
        gb = sum_to_shape(np.where(tie, half, np.where(a_wins, zero, grad)), b.shape) if nb else None
        return ga, gb


class Maximum(_Pick):
    """Element-wise larger of two broadcast operands, as ``torch.maximum``."""

    pick, beats = np.maximum, np.greater


class Minimum(_Pick):
    """Element-wise smaller of two broadcast operands, as ``torch.minimum``."""

    pick, beats = np.minimum, np.less


# ---- the Tensor methods ---------------------------------------------------------------------
def _floats(pair: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """True division: integer operands become the default float dtype (as PyTorch)."""
    return pair[0]._as_float(), pair[1]._as_float()


def _register_operator(name: str, op: type[Function]) -> None:
    """``Tensor.__<name>__`` (``x + y``) and the reflected ``__r<name>__`` (``2 + x``): ``op``
    of the two operands, promoted by PyTorch's rules (`Tensor._pair`)."""

    def direct(self, o: Any) -> Tensor:
        return op.apply(*self._pair(o))

    def reflected(self, o: Any) -> Tensor:
        return op.apply(*self._pair(o, True))

    for method, method_name in ((direct, f"__{name}__"), (reflected, f"__r{name}__")):
        method.__name__ = method.__qualname__ = method_name
        tensor_method(method)


for _name, _op in (("add", Add), ("sub", Sub), ("mul", Mul), ("matmul", MatMul)):
    _register_operator(_name, _op)
tensor_method(Tensor.__matmul__, name="matmul")


@tensor_method
def __truediv__(self, o: Any) -> Tensor:
    return Div.apply(*_floats(self._pair(o)))


@tensor_method
def __rtruediv__(self, o: Any) -> Tensor:
    return Div.apply(*_floats(self._pair(o, True)))


@tensor_method
def __pow__(self, o: Any) -> Tensor:
    if isinstance(o, Tensor):
        return Pow.apply(*self._pair(o))
    base = self
    if promotion.with_scalar(self.data.dtype, o) != self.data.dtype:
        base = Tensor._wrap(self.data.astype(promotion.with_scalar(self.data.dtype, o)), False)
    return PowScalar.apply(base, exponent=o)


@tensor_method
def __rpow__(self, o: Any) -> Tensor:
    return Pow.apply(*self._pair(o, True))


@tensor_method
def __neg__(self) -> Tensor:
    return Neg.apply(self)


def _register_unary(name: str, op: type[Function], doc: str, floats: bool = True) -> None:
    """``Tensor.<name>()``: ``op`` of the tensor, made the default float dtype first when it is
    an integer one and ``floats`` (PyTorch's rule for ``exp``, ``log``, ...)."""

    def unary(self) -> Tensor:
        return op.apply(self._as_float() if floats else self)

    unary.__name__ = unary.__qualname__ = name
    unary.__doc__ = doc
    tensor_method(unary)


_register_unary("exp", Exp, "Element-wise e**x (``torch.exp``); integer input gives the default "
                            "float dtype.")
_register_unary("log", Log, "Element-wise natural logarithm (``torch.log``).")
_register_unary("tanh", Tanh, "Element-wise hyperbolic tangent (``torch.tanh``).")
_register_unary("sigmoid", Sigmoid, "Element-wise logistic function 1 / (1 + e**-x) "
                                    "(``torch.sigmoid``).")
_register_unary("sqrt", Sqrt, "Element-wise square root (``torch.sqrt``).")
_register_unary("relu", Relu, "Element-wise max(x, 0) (``torch.relu``).", floats=False)
_register_unary("abs", Abs, "Element-wise absolute value (``torch.abs``).", floats=False)


def _tensor_operand(fn: str, other: Any) -> Any:
    """``other`` for a binary op that, as in PyTorch, takes tensors (and arrays) only."""
    if isinstance(other, (Tensor, np.ndarray)):
        return other
    raise TypeError(f"{fn}(): argument 'other' must be Tensor, not {type(other).__name__}")


@tensor_method
def maximum(self, other: Any) -> Tensor:
    """Element-wise larger of ``self`` and the tensor ``other`` (broadcast; promoted as
    arithmetic; half the gradient to each at a tie), as ``torch.maximum``."""
    return Maximum.apply(*self._pair(_tensor_operand("maximum", other)))


@tensor_method
def minimum(self, other: Any) -> Tensor:
    """Element-wise smaller of ``self`` and the tensor ``other``, as ``torch.minimum``."""
    return Minimum.apply(*self._pair(_tensor_operand("minimum", other)))


# ---- comparisons: element-wise bool tensors, no gradient; hashing stays by identity ----------
def _register_comparison(name: str, symbol: str, compare: Callable[[Any, Any], Any]) -> None:
    """``Tensor.__<name>__`` (``x < y``) and ``Tensor.<name>`` (``x.lt(y)``)."""

    def comparison(self, o: Any) -> Tensor:
        return constant(compare(self.data, unwrap(o)))

    comparison.__name__ = comparison.__qualname__ = f"__{name}__"
    comparison.__doc__ = f"Element-wise ``self {symbol} o`` as a bool tensor (``torch.{name}``)."
    tensor_method(comparison, also=(name,))


for _name, _symbol, _compare in (("eq", "==", operator.eq), ("ne", "!=", operator.ne),
                                 ("lt", "<", operator.lt), ("le", "<=", operator.le),
                                 ("gt", ">", operator.gt), ("ge", ">=", operator.ge)):
    _register_comparison(_name, _symbol, _compare)


@tensor_method
def equal(self, o: Any) -> bool:
    """True when shapes and every element agree (``torch.equal``)."""
    other = unwrap(o)
    return self.data.shape == np.shape(other) and bool(np.all(self.data == other))
