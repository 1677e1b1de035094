"""Argument rules of the clip methods (all checked before any gradient is touched), and the
``nonfinite=`` policy as the ``NonFinite`` enum the kernels take."""

from __future__ import annotations

import math
from typing import Any

from .._validate import Boolean, Real, show
from ._backends import DeviceScalar, NonFinite
from ._gather import is_device_array

NONFINITE_POLICIES = tuple(policy.name.lower() for policy in NonFinite)

THRESHOLD = Real(0, finite=False)  # a clipping threshold; inf: no clipping
POSITIVE = Real(0, low_open=True)  # a finite factor > 0
NONNEGATIVE = Real(0)  # a finite amount >= 0
NORM_TYPE = Real(1, finite=False)


def norm_type(value: Any) -> float:
    """A p-norm order: a number >= 1 or inf (a string such as 'inf' too, as PyTorch)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise TypeError(f"norm_type must be {NORM_TYPE.text} (or a string such as 'inf'), "
                            f"got str {value!r}") from None
    return NORM_TYPE(value, "norm_type")


def norm_args(max_norm: Any, norm_type_: Any, nonfinite: Any,
              error_if_nonfinite: bool = False) -> tuple[float, float, NonFinite]:
    """(max_norm, norm type, policy) of a norm clip, checked in that order."""
    return (THRESHOLD(max_norm, "max_norm"), norm_type(norm_type_),
            nonfinite_policy(nonfinite, error_if_nonfinite))


def total_norm(value: Any) -> Any:
    """A precomputed total norm: a number >= 0 or inf; NaN passes (it propagates into the
    gradients, as in PyTorch). A ``DeviceScalar`` / device array is passed on unread (reading
    it would wait for the GPU)."""
    if isinstance(value, DeviceScalar) or is_device_array(value):
        return value
    v = THRESHOLD.number(value, "total_norm")
    if math.isnan(v):
        return v
    if not v >= 0.0:
        raise ValueError(f"total_norm must be a number >= 0, inf or NaN (a norm, as "
                         f"get_total_norm returns), got {show(value)}")
    return v


def nonfinite_policy(nonfinite: str | NonFinite | None,
                     error_if_nonfinite: bool = False) -> NonFinite:
    """Resolve ``nonfinite=`` (one of ``NONFINITE_POLICIES``, a ``NonFinite`` or None) and
    PyTorch's ``error_if_nonfinite=`` into one policy."""
    error_if_nonfinite = Boolean()(error_if_nonfinite, "error_if_nonfinite")
    if nonfinite is None:
        return NonFinite.ERROR if error_if_nonfinite else NonFinite.PROPAGATE
    if isinstance(nonfinite, NonFinite):
        policy = nonfinite
    elif nonfinite in NONFINITE_POLICIES:
        policy = NonFinite[nonfinite.upper()]
    else:
        raise ValueError(
            f"nonfinite must be one of {NONFINITE_POLICIES} or None, got {nonfinite!r}"
        )
    if error_if_nonfinite and policy is not NonFinite.ERROR:
        raise ValueError(
            f"error_if_nonfinite=True conflicts with nonfinite={nonfinite!r}; give only one"
        )
    return policy
