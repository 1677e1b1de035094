"""Work items for float32 / float64 arrays, and the operation codes every item runner shares
(``_lowp_items`` and ``_f16c_items`` run the same operations on 16-bit arrays)."""

from __future__ import annotations

from .._jit import njit
from ._claims import claim
from ._reductions import clamp_chunk, partial, scale_chunk
from ._segments import segment_view

NORM, SCALE, CLAMP, FILL = 0, 1, 2, 3


@njit(cache=True)
def _item(op, k, addrs, sizes, seg, start, stop, arg, coefs, proto, out, scales):
    """Work item k of operation ``op`` on its chunk; per-item results go to ``out[k]``."""
    s = seg[k]
    y = segment_view(addrs[s], sizes[s], proto)[start[k] : stop[k]]
    if op == NORM:
        partial(y, arg, out, scales, k)
    elif op == SCALE:
        if coefs[s] != 1.0:
            scale_chunk(y, coefs[s])
    elif op == CLAMP:
        out[k] = clamp_chunk(y, arg)
    else:
        y[:] = arg


@njit(cache=True, nogil=True)
def run_items(op, addrs, sizes, seg, start, stop, arg, coefs, proto, out, scales, claims):
    """The work items this thread claims (``claim_run``); returns how many it did."""
    n, done = seg.shape[0], 0
    lo, hi = claim(claims, n, 0)
    while lo < hi:
        for k in range(lo, hi):
            _item(op, k, addrs, sizes, seg, start, stop, arg, coefs, proto, out, scales)
        done += hi - lo
        lo, hi = claim(claims, n, hi - lo)
    return done
