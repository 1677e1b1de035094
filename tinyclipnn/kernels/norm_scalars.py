"""Scalar steps of a p-norm, written once in plain Python and compiled twice: by ``njit`` for
the CPU kernels (``cpu._reductions``) and by ``cuda.jit(device=True)`` for the GPU kernels
(``cuda._reduce``). Importing this imports no numba."""

from __future__ import annotations

import math


def root(s: float, p: float) -> float:
    """s^(1/p) for the p-norm (p = 2 with sqrt, p = 1 and inf unchanged)."""
    if p == 2.0:
        return math.sqrt(s)
    if p == 1.0 or p == math.inf:
        return s
    return s ** (1.0 / p)


def pow_abs(v: float, p: float) -> float:
    """|v|^p (p = 2 and 1 without pow)."""
    if p == 2.0:
        return v * v
    if p == 1.0:
        return abs(v)
    return abs(v) ** p
