"""Parameter initialisers (in place, as ``torch.nn.init``), drawing from the global generator."""

from __future__ import annotations

import math

import numpy as np

from .._validate import OneOf, Optional, Real
from ..autograd import Tensor, default_generator, no_grad


def _fans(tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(f"Fan in and fan out can not be computed for tensor with fewer than 2 "
                         f"dimensions (got shape {tuple(tensor.shape)})")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


_MODE = OneOf("fan_in", "fan_out")
_LINEAR_GAIN = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                "conv_transpose3d", "sigmoid")
_NONLINEARITY = OneOf(*_LINEAR_GAIN, "tanh", "relu", "leaky_relu", "selu")
_NEGATIVE_SLOPE = Optional(Real())


def _fan(tensor: Tensor, mode: str) -> int:
    mode = _MODE(mode, "mode")
    fan_in, fan_out = _fans(tensor)
    return fan_in if mode == "fan_in" else fan_out


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (``torch.nn.init.calculate_gain``): 1 for
    linear/conv/sigmoid, 5/3 tanh, sqrt(2) relu, sqrt(2 / (1 + slope^2)) leaky_relu (slope
    ``param``, default 0.01), 3/4 selu."""
    nonlinearity = _NONLINEARITY(nonlinearity, "nonlinearity")
    if nonlinearity in _LINEAR_GAIN:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = _NEGATIVE_SLOPE(param, "param")
        slope = 0.01 if slope is None else slope
        return math.sqrt(2.0 / (1 + slope**2))
    return 3.0 / 4  # selu


def _gen(rng: np.random.Generator | None, generator: np.random.Generator | None
         ) -> np.random.Generator:
    return generator or rng or default_generator()


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    """Copy ``values`` (float64 draws) into ``tensor`` in its dtype, outside the graph."""
    with no_grad():
        tensor.copy_(values.astype(tensor.dtype))
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, rng: np.random.Generator | None = None,
             *, generator: np.random.Generator | None = None) -> Tensor:
    """Fill with U(a, b) in place (``generator=``, PyTorch's name, or ``rng=``)."""
    return _fill(tensor, _gen(rng, generator).uniform(a, b, size=tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, rng: np.random.Generator | None = None,
            *, generator: np.random.Generator | None = None) -> Tensor:
    """Fill with N(mean, std^2) in place (``generator=``, PyTorch's name, or ``rng=``)."""
    return _fill(tensor, _gen(rng, generator).normal(mean, std, size=tensor.shape))


def zeros_(tensor: Tensor) -> Tensor:
    return tensor.zero_()


def ones_(tensor: Tensor) -> Tensor:
    return tensor.fill_(1.0)


def constant_(tensor: Tensor, value: float) -> Tensor:
    return tensor.fill_(value)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    fan = _fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    return gain / math.sqrt(fan) if fan else 0.0


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     generator: np.random.Generator | None = None) -> Tensor:
    """He-uniform init U(-b, b), ``b = gain * sqrt(3 / fan)``; PyTorch's Linear uses it with
    ``a=sqrt(5)`` giving U(±1/sqrt(fan_in))."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator=generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    generator: np.random.Generator | None = None) -> Tensor:
    """He-normal init N(0, std^2), ``std = gain / sqrt(fan)`` (``torch.nn.init.kaiming_normal_``)."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator=generator)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0,
                    generator: np.random.Generator | None = None) -> Tensor:
    """Glorot-uniform init U(-b, b), ``b = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator=generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0,
                   generator: np.random.Generator | None = None) -> Tensor:
    """Glorot-normal init N(0, std^2), ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator=generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0,
                generator: np.random.Generator | None = None) -> Tensor:
    """A (semi-)orthogonal matrix times ``gain``, from the QR decomposition of a Gaussian one
    (trailing dims flattened), as ``torch.nn.init.orthogonal_`` (Saxe et al. 2013)."""
    if tensor.ndim < 2:
        raise ValueError(f"Only tensors with 2 or more dimensions are supported (got shape "
                         f"{tuple(tensor.shape)})")
    if tensor.data.size == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.data.size // rows
    flat = _gen(None, generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))
