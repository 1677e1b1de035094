"""Reuse of recent gathers: an optimizer clips the same list of gradient arrays every step,
and checking ~1,000 arrays one by one costs about 0.5 ms of Python per call.

Only gathers whose one group holds the gradients themselves (plain contiguous numpy arrays of
one dtype: no copies, no repeats, no None) are kept, keyed by the identity of the arrays
(``kernels.identity_cache``: weak references). Every hit is re-validated in a few C-level
passes (same objects, and each array's dtype, size, contiguity and writeable flag), so an array
made read-only, re-typed or resized since is gathered and checked again from scratch. A hit
saves the per-array Python work and keeps the group's backend plans (``Group.planned``: the
Numba segment table), which stay valid because addresses, dtypes and sizes are unchanged.
"""

from __future__ import annotations

from itertools import repeat
from operator import attrgetter, is_
from typing import Any

import numpy as np

from ..kernels.identity_cache import IdentityCache

_CONTIGUOUS, _WRITEABLE = 0x1 | 0x2, 0x400  # numpy's C/F-contiguous and writeable flag bits
_dtype, _size, _flags = attrgetter("dtype"), attrgetter("size"), attrgetter("flags.num")
_groups = IdentityCache(8)


def keep(grads: list[Any], group: Any) -> None:
    """Remember ``group`` for ``grads`` when it holds exactly those arrays."""
    arrays = group.arrays
    if len(arrays) == len(grads) and all(map(is_, arrays, grads)):
        _groups.put(grads, (group, list(map(_size, grads))))


def find(grads: list[Any], writable: bool) -> Any | None:
    """The group kept for these very arrays if each is unchanged since (else None: the caller
    gathers from scratch, raising the errors a changed array deserves)."""
    hit = _groups.get(grads)
    if hit is None:
        return None
    group, sizes = hit
    if not all(map(is_, map(_dtype, grads), repeat(group.dtype))):
        return None
    if list(map(_size, grads)) != sizes:
        return None
    flags = np.fromiter(map(_flags, grads), np.int64, len(grads))
    if not (flags & _CONTIGUOUS).all() or (writable and not (flags & _WRITEABLE).all()):
        return None
    return group
