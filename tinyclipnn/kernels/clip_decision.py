"""The clip decision, written once: from a total norm to the coefficient the gradients are
multiplied by, and what a non-finite total does.

``clip_coefficient`` is plain Python on plain floats. The numpy reference calls it as is; the
Numba CPU kernels compile it with ``njit`` and the CUDA kernels with
``cuda.jit(device=True)`` (each where it is used, so importing this module imports no numba).
So that both compilers take them, the functions call nothing but ``math``.
"""

from __future__ import annotations

import math
from enum import IntEnum

EPS = 1e-6  # PyTorch's: coefficient = max_norm / (total_norm + 1e-6)


class NonFinite(IntEnum):
    """What a clip does when the total norm is inf or NaN (``nonfinite=``).

    ``PROPAGATE``: IEEE arithmetic, as PyTorch (NaN spreads into the gradients); ``ERROR``:
    raise, gradients untouched (the kernels write nothing; the caller raises); ``SKIP``:
    gradients untouched; ``ZERO``: gradients set to zero (the caller fills them: scaling an
    inf by 0 would give NaN)."""

    PROPAGATE = 0
    ERROR = 1
    SKIP = 2
    ZERO = 3


def clip_coefficient(total: float, max_norm: float, eps: float, policy: int) -> float:
    """The factor for a total norm ``total >= 0``: ``max_norm / (total + eps)`` when that is
    below 1 or NaN (NaN propagates, as in PyTorch), else 1. A non-finite total under a policy
    other than ``PROPAGATE`` gives 0.0 for ``ZERO`` and 1.0 (untouched) otherwise."""
    if policy != NonFinite.PROPAGATE and (math.isinf(total) or total != total):
        return 0.0 if policy == NonFinite.ZERO else 1.0
    coef = max_norm / (total + eps)
    if coef < 1.0 or coef != coef:
        return coef
    return 1.0


def held_back(total: float, policy: int) -> bool:
    """Whether the scaling pass writes nothing: a non-finite total under a policy other than
    ``PROPAGATE`` (for ``ZERO`` the caller then fills the gradients with zeros)."""
    return policy != NonFinite.PROPAGATE and (math.isinf(total) or total != total)
