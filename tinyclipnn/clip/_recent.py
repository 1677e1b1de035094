"""Reuse of recent gathers: an optimizer clips the same list of gradient arrays every step,
and checking ~1,000 arrays one by one costs about 0.5 ms of Python per call.

Only gathers whose one group holds the gradients themselves (plain contiguous numpy arrays of
one dtype: no copies, no repeats, no None) are kept, keyed by the identity of the arrays
(``kernels.identity_cache``: weak references). Every hit is re-validated in two C-level
passes (same objects; each array's dtype and flags as they were), so an array made read-only
or re-typed since is gathered and checked again from scratch. A hit saves the per-array
Python work and keeps the group's backend plans (``Group.planned``: the Numba segment table),
which stay valid because addresses, dtypes and sizes are unchanged.
"""

from __future__ import annotations

from operator import attrgetter, is_
from typing import Any

from ..kernels.runtime import IdentityCache
from ._group import Group

_WRITEABLE = 0x400  # numpy's writeable flag bit
_signature = attrgetter("dtype", "flags.num")  # what may change on the same array object
_groups = IdentityCache(8)


def keep(grads: list[Any], group: Any) -> None:
    """Remember ``group`` for ``grads`` when it holds exactly those arrays. What is kept holds
    no reference to the arrays (their dtype, flags and the group's plans: segment tables of
    addresses), so a kept gather never keeps a freed model's gradients alive."""
    arrays = group.arrays
    if len(arrays) == len(grads) and all(map(is_, arrays, grads)):
        signature = list(map(_signature, grads))
        writeable = all(flags & _WRITEABLE for _, flags in signature)
        _groups.put(grads, (group.dtype, group.plans, signature, writeable))


def find(grads: list[Any], writable: bool) -> Any | None:
    """A group of ``grads`` with the plans kept for these very arrays, if each still has the
    dtype and flags it had (else None: the caller gathers from scratch, raising the errors a
    changed array deserves). Sizes need no check: numpy refuses to resize an array that has
    weak references."""
    hit = _groups.get(grads)
    if hit is None:
        return None
    dtype, plans, signature, writeable = hit
    if (writable and not writeable) or list(map(_signature, grads)) != signature:
        return None
    return Group(dtype, list(grads), list(range(len(grads))), plans)
