"""Activation modules: `Tanh`, `ReLU`, `Sigmoid`, `GELU`, `Softmax`, `LogSoftmax`, `Identity`."""

from __future__ import annotations

import warnings
from typing import Any

from ..autograd import Tensor
from . import functional as F
from .module import Module


class Tanh(Module):
    """Element-wise hyperbolic tangent (``torch.nn.Tanh``)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class ReLU(Module):
    """Element-wise max(x, 0) (``torch.nn.ReLU``)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Sigmoid(Module):
    """Element-wise logistic function (``torch.nn.Sigmoid``)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class Identity(Module):
    """Returns its input unchanged (``torch.nn.Identity``)."""

    def forward(self, x: Any) -> Any:
        return x


class GELU(Module):
    """``x * Phi(x)`` (``approximate="none"``, exact erf) or its tanh approximation
    (``approximate="tanh"``), as ``torch.nn.GELU``."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = F.check_gelu_approximate(approximate, "GELU")

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


def _implicit_dim(name: str, ndim: int) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  f"to include dim=X as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


class _Normaliser(Module):
    """Shared by `Softmax` / `LogSoftmax`: one op along ``dim`` (PyTorch's legacy choice, with
    its warning, when ``dim`` is None)."""

    op = "softmax"

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        dim = self.dim if self.dim is not None else _implicit_dim(self.op, x.ndim)
        return getattr(x, self.op)(dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_Normaliser):
    """``exp(x) / sum(exp(x))`` along ``dim``."""

    op = "softmax"


class LogSoftmax(_Normaliser):
    """``log(softmax(x))`` along ``dim``, computed stably."""

    op = "log_softmax"
