"""`LayerNorm` (Ba et al. 2016) with PyTorch's arguments, parameters and repr."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validate import Real, check
from ..autograd import Tensor
from . import functional as F
from ._checks import check_compute_dtype, check_dtype, check_flag, check_size
from .module import Module
from .parameter import Parameter

_EPS = Real(0, low_open=True)


class LayerNorm(Module):
    """Normalise each input over its trailing ``normalized_shape`` dims, then scale and shift.

    ``weight`` (ones) and ``bias`` (zeros) have shape ``normalized_shape`` when
    ``elementwise_affine`` (``bias=False`` drops the shift)."""

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        shape = (tuple(normalized_shape) if isinstance(normalized_shape, (list, tuple))
                 else (normalized_shape,))
        self.normalized_shape = tuple(check_size("LayerNorm", "normalized_shape", s, 0)
                                      for s in shape)
        self.eps = check(_EPS, eps, "eps", "LayerNorm")
        self.elementwise_affine = check_flag("LayerNorm", "elementwise_affine", elementwise_affine)
        bias = check_flag("LayerNorm", "bias", bias)
        dt = check_dtype("LayerNorm", dtype)
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dt))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            self.weight.fill_(1.0)
        if self.bias is not None:
            self.bias.zero_()

    def forward(self, x: Tensor) -> Tensor:
        if self.weight is not None:
            check_compute_dtype(self, self.weight.dtype)
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")
