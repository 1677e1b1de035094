"""`Function`: one subclass per op, with `forward` on arrays and `backward` on arrays.

An op is written once, as in PyTorch's ``torch.autograd.Function``::

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.saved_tensors
            return grad * b, grad * a

    y = Mul.apply(x1, x2)

Every positional argument of ``apply`` is an input: a `Tensor` (differentiable when it
requires grad) or anything else (passed through as a constant, its gradient ignored). Keyword
arguments are passed to ``forward`` untouched. ``forward`` may return one array or a tuple of
arrays (a multi-output op); ``backward`` then receives one gradient per output (zeros for an
output that did not take part in the loss) and returns one gradient (or None) per input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InputError
from .grad_mode import _state
from .tensor import Tensor


class Context:
    """What `forward` leaves for `backward`: saved arrays and any attributes set on it."""

    needs_input_grad: tuple[bool, ...]

    def save_for_backward(self, *arrays: Any) -> None:
        self.saved_tensors = arrays


class Node:
    """One recorded op in the graph: its function, context and inputs."""

    __slots__ = ("fn", "ctx", "inputs", "versions", "n_outputs", "freed", "grads", "holders")

    def __init__(
        self, fn: type[Function], ctx: Context, inputs: tuple, versions: tuple, n_outputs: int
    ) -> None:
        self.fn = fn
        self.ctx = ctx
        self.inputs = inputs  # Tensor or None per positional argument of apply
        self.versions = versions  # each input's _version when it was used
        self.n_outputs = n_outputs
        self.freed = False
        self.grads: list | None = None  # per-output gradients while backward runs
        self.holders: list | None = None  # per-output tensors (for their hooks) while it runs

    @property
    def name(self) -> str:
        return self.fn.__name__ + "Backward"


class Function:
    """Base class of every differentiable op; subclasses define `forward` and `backward`."""

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, *grads: np.ndarray) -> Any:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        ctx = Context()
        raw = []
        needs = []
        any_needs = False
        for a in args:
            if isinstance(a, Tensor):
                raw.append(a.data)
                needs.append(a.requires_grad)
                any_needs = any_needs or a.requires_grad
            else:
                raw.append(a)
                needs.append(False)
        ctx.needs_input_grad = tuple(needs)
        try:
            out = cls.forward(ctx, *raw, **kwargs)
        except ValueError as e:  # numpy's shape errors: PyTorch raises RuntimeError for them
            if isinstance(e, InputError):
                raise
            raise InputError(f"{cls.__name__}: {e}") from e
        track = any_needs and getattr(_state, "enabled", True)
        if type(out) is not tuple:
            t = Tensor._wrap(out, track)
            if track:
                t._node = _record(cls, ctx, args, 1)
            return t
        tensors = tuple(Tensor._wrap(o, track) for o in out)
        if track:
            ctx.out_meta = [(t.data.shape, t.data.dtype) for t in tensors]
            node = _record(cls, ctx, args, len(tensors))
            for i, t in enumerate(tensors):
                t._node = node
                t._out_index = i
        return tensors


def _record(fn: type[Function], ctx: Context, args: tuple, n_outputs: int) -> Node:
    inputs = tuple(a if isinstance(a, Tensor) else None for a in args)
    versions = tuple(a._version if a is not None else 0 for a in inputs)
    return Node(fn, ctx, inputs, versions, n_outputs)
