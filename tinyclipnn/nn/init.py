"""Parameter initialisers (in place, as ``torch.nn.init``), drawing from the global generator."""

from __future__ import annotations

import math

import numpy as np

from ..autograd import Tensor, default_generator, no_grad


def _fans(t: Tensor) -> tuple[int, int]:
    if t.ndim < 2:
        raise ValueError(f"fan in/out need a tensor with >= 2 dims, got shape {t.shape}")
    receptive = int(np.prod(t.shape[2:])) if t.ndim > 2 else 1
    return t.shape[1] * receptive, t.shape[0] * receptive


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, rng: np.random.Generator | None = None) -> Tensor:
    gen = rng or default_generator()
    with no_grad():
        t.copy_(gen.uniform(a, b, size=t.shape).astype(t.dtype))
    return t


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, rng: np.random.Generator | None = None) -> Tensor:
    gen = rng or default_generator()
    with no_grad():
        t.copy_(gen.normal(mean, std, size=t.shape).astype(t.dtype))
    return t


def zeros_(t: Tensor) -> Tensor:
    return t.zero_()


def ones_(t: Tensor) -> Tensor:
    return t.fill_(1.0)


def constant_(t: Tensor, value: float) -> Tensor:
    return t.fill_(value)


def kaiming_uniform_(t: Tensor, a: float = 0.0, nonlinearity: str = "leaky_relu") -> Tensor:
    """He-uniform init; PyTorch's Linear uses it with ``a=sqrt(5)`` giving U(±1/sqrt(fan_in))."""
    fan_in, _ = _fans(t)
    if nonlinearity == "leaky_relu":
        gain = math.sqrt(2.0 / (1 + a * a))
    elif nonlinearity == "relu":
        gain = math.sqrt(2.0)
    elif nonlinearity in ("linear", "sigmoid"):
        gain = 1.0
    elif nonlinearity == "tanh":
        gain = 5.0 / 3
    else:
        raise ValueError(f"kaiming_uniform_: unknown nonlinearity {nonlinearity!r}")
    bound = gain * math.sqrt(3.0 / fan_in) if fan_in else 0.0
    return uniform_(t, -bound, bound)


def xavier_uniform_(t: Tensor, gain: float = 1.0) -> Tensor:
    fan_in, fan_out = _fans(t)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound)
