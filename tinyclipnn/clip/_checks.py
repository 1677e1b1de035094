"""Argument checks shared by the clip functions (all run before any gradient is touched)."""

from __future__ import annotations

import math
from typing import Any

NONFINITE_POLICIES = ("propagate", "error", "skip", "zero")


class NonFiniteNormError(RuntimeError):
    """The total gradient norm is inf or NaN and the policy is ``nonfinite="error"``."""


def threshold(name: str, value: Any) -> float:
    """A clipping threshold: a real number >= 0 (inf allowed, meaning no clipping)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        and not hasattr(value, "__float__")
    ):
        raise TypeError(f"{name} must be a real number >= 0, got {type(value).__name__}")
    v = float(value)
    if not v >= 0.0:  # also rejects NaN
        raise ValueError(f"{name} must be >= 0 (inf allowed), got {value!r}")
    return v


def norm_type(value: Any) -> float:
    """A p-norm order: float >= 1 or inf (the string 'inf' is accepted too)."""
    try:
        p = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"norm_type must be a float >= 1 or inf, got {value!r}") from None
    if isinstance(value, bool) or not p >= 1.0:
        raise ValueError(f"norm_type must be a float >= 1 or inf, got {value!r}")
    return p


def nonfinite_policy(nonfinite: str | None, error_if_nonfinite: bool) -> str:
    """Resolve ``nonfinite=`` and PyTorch's ``error_if_nonfinite=`` into one policy name."""
    if nonfinite is None:
        return "error" if error_if_nonfinite else "propagate"
    if nonfinite not in NONFINITE_POLICIES:
        raise ValueError(
            f"nonfinite must be one of {NONFINITE_POLICIES} or None, got {nonfinite!r}"
        )
    if error_if_nonfinite and nonfinite != "error":
        raise ValueError(
            f"error_if_nonfinite=True conflicts with nonfinite={nonfinite!r}; give only one"
        )
    return nonfinite


def positive(name: str, value: Any) -> float:
    """A finite real number > 0."""
    v = threshold(name, value)
    if not (v > 0.0 and math.isfinite(v)):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v
