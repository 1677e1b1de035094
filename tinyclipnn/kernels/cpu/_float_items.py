"""Work items for float32 / float64 arrays, one runner per operation, and the operation codes
every item runner shares (``_lowp_items`` and ``_f16c_items`` run the same operations on
16-bit arrays).

One runner per operation, not one runner switching on an operation code: a call compiles only
the operation it runs (a process's first global-norm clip compiled the clamp and fill loops
too, and a second copy of everything for a constant operation code: ~1.5 s of its ~4 s).
"""

from __future__ import annotations

from .._jit import njit
from ._claims import claimed_items
from ._reductions import clamp_chunk, partial, scale_chunk
from ._segments import item_view

NORM, SCALE, CLAMP, FILL = 0, 1, 2, 3


@njit(cache=True, nogil=True)
def norm_items(addrs, sizes, seg, start, stop, p, proto, out, scales, claims):
    """Chunk partials (``partial``) of the work items this thread claims (``claim_run``) into
    ``out[k]`` / ``scales[k]``; returns how many items it did."""
    done = 0
    for k in claimed_items(claims, seg.shape[0]):
        partial(item_view(addrs, sizes, seg, start, stop, proto, k), p, out, scales, k)
        done += 1
    return done


@njit(cache=True, nogil=True)
def scale_items(addrs, sizes, seg, start, stop, coefs, proto, claims):
    """Scale each claimed item by its segment's ``coefs[s]`` (1 writes nothing)."""
    done = 0
    for k in claimed_items(claims, seg.shape[0]):
        if coefs[seg[k]] != 1.0:
            scale_chunk(item_view(addrs, sizes, seg, start, stop, proto, k), coefs[seg[k]])
        done += 1
    return done


@njit(cache=True, nogil=True)
def clamp_items(addrs, sizes, seg, start, stop, c, proto, out, claims):
    """Clamp each claimed item to [-c, c]; ``out[k]`` = how many values changed."""
    done = 0
    for k in claimed_items(claims, seg.shape[0]):
        out[k] = clamp_chunk(item_view(addrs, sizes, seg, start, stop, proto, k), c)
        done += 1
    return done


@njit(cache=True, nogil=True)
def fill_items(addrs, sizes, seg, start, stop, value, proto, claims):
    """Set every element of each claimed item to ``value``."""
    done = 0
    for k in claimed_items(claims, seg.shape[0]):
        y = item_view(addrs, sizes, seg, start, stop, proto, k)
        v = y.dtype.type(value)
        for i in range(y.size):
            y[i] = v
        done += 1
    return done
