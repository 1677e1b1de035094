"""`Parameter`: a leaf `Tensor` that a `Module` registers and optimizers update."""

from __future__ import annotations

from typing import Any

from ..autograd import Tensor


class Parameter(Tensor):
    """A `Tensor` with ``requires_grad=True`` that `Module` picks up as a parameter."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(data.data if isinstance(data, Tensor) else data,
                         requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
