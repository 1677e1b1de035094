"""Dynamic work claiming: threads take work items in small batches from one shared counter.

A static split (each of two threads takes half the items) finishes when the *slower* thread
does. On a shared VM a thread that wakes late or loses its CPU for a while is common: measured
on a 2-vCPU KVM guest (AMD EPYC), a pool thread starts 200-350 us after it is handed work and
the caller waits another ~100 us to be woken when it ends, against ~1.2 ms of work for a 6M
float32 norm. With claims, whichever thread is running takes the next batch, and the caller,
once nothing is left to claim, spins (no sleep, no wake-up) until the batches in flight end.

``claims`` is an int64 array ``[next item, items per batch, items done]``, one such row per
pass when a kernel makes several passes over the same items (``_fused``). A work item's result
never depends on which thread ran it, so results stay bit-identical for any thread count.
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import intrinsic

from .._jit import njit

NEXT, BATCH, DONE = 0, 1, 2


@intrinsic
def fetch_add(typingctx, arr, idx, value):
    """Atomically ``arr[idx] += value`` on an int64 array; returns the value before."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.gep(ary.data, [args[1]])
        add = context.cast(builder, args[2], signature.args[2], types.int64)
        return builder.atomic_rmw("add", ptr, add, "seq_cst")

    return types.int64(arr, idx, value), codegen


def new_claims(batch: int, passes: int = 1) -> np.ndarray:
    """Fresh claims counters, one row per pass, for items taken ``batch`` at a time."""
    claims = np.zeros((passes, 3), np.int64)
    claims[:, BATCH] = max(1, batch)
    return claims


@njit(inline="always")
def claim(claims, n_items, finished):
    """Report ``finished`` items done and claim the next batch: ``(lo, hi)``, empty when all
    items are taken."""
    if finished:
        fetch_add(claims, DONE, finished)
    lo = fetch_add(claims, NEXT, claims[BATCH])
    return min(lo, n_items), min(lo + claims[BATCH], n_items)


@njit(nogil=True)
def claimed_items(claims, n_items):
    """The items this thread claims, one by one (a batch at a time; a batch is reported done
    when the next one is claimed): every item runner's loop, written once."""
    lo, hi = claim(claims, n_items, 0)
    while lo < hi:
        for k in range(lo, hi):  # noqa: UP028 - numba compiles no ``yield from``
            yield k
        lo, hi = claim(claims, n_items, hi - lo)


@intrinsic
def load_acquire(typingctx, arr, idx):
    """``arr[idx]`` of an int64 array as an atomic read (never hoisted out of a loop, and no
    write: a spinning reader does not take the cache line from the threads that update it)."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64):
        return None

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        return builder.load_atomic(builder.gep(ary.data, [args[1]]), "acquire", 8)

    return types.int64(arr, idx), codegen


@njit(cache=True, nogil=True)
def wait_done(claims, n_items, polls):
    """Spin until every item is done (True) or ``polls`` reads have passed (False)."""
    for _ in range(polls):
        if load_acquire(claims, DONE) >= n_items:
            return True
    return False


@njit(cache=True, nogil=True)
def close(claims, n_items):
    """After an error: no thread claims another item, and none waits for the items of a pass
    to be done (every row of ``claims`` is marked taken and done)."""
    for row in range(claims.shape[0]):
        fetch_add(claims[row], NEXT, n_items)
        fetch_add(claims[row], DONE, n_items)
