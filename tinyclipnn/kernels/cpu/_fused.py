"""The global-norm clip as one threaded call: norm pass, fixed-order combine, policy and
scaling pass, with no Python between the two passes.

Why: between two separate passes the caller combines the partials in numpy and computes the
coefficient in Python, right after a pass that streamed the whole gradient through the
caches, and a pool thread must be woken again for the second pass. Measured (AMD EPYC, KVM,
2 threads, 6M float32 in one array): ~120 us for the numpy combine alone, ~350 us between
the end of the norm pass and the start of the scaling pass.

Each thread claims norm items until none is left, waits until every norm item is done,
combines all partials itself (the same numbers in the same order in every thread: the same
total, bit for bit), and claims scaling items. ``claims`` has one row per pass
(``_claims``). The coefficient and the non-finite policy are ``clip_decision``'s (the policy
as its ``NonFinite`` code; a non-finite total writes nothing here, and for ``ZERO`` the
caller fills the gradients with zeros).

There is one such function per item runner (float, 16-bit, float16 with F16C), alike but for
the runner they call: numba does not cache a function that takes another compiled function
as an argument, and the F16C runner must not be compiled on a CPU without F16C.
"""

from __future__ import annotations

import numpy as np

from .._jit import INNER, njit
from ..clip_decision import clip_coefficient, held_back
from ._claims import DONE, wait_done
from ._f16c_items import run_items_f16c
from ._float_items import NORM, SCALE, norm_items, scale_items
from ._lowp_items import run_items_lowp
from ._reductions import combine_partials

_NOTHING = -1
_coefficient = njit(cache=True, error_model="numpy", **INNER)(clip_coefficient)
_held_back = njit(cache=True, **INNER)(held_back)


@njit(cache=True, nogil=True, error_model="numpy", **INNER)
def _after_norms(out, scales, p, max_norm, eps, unscale, policy, claims, res, coefs):
    """After the norm pass: the operation for the second pass or ``_NOTHING``, with its factor
    in every entry of ``coefs`` (one per segment). ``res`` gets the total norm (times
    ``unscale``) and the clip coefficient. With no second pass it is marked done. Every thread
    stores the same numbers into ``res``, ``coefs`` and the count (a benign race), and no
    array is allocated here (less to compile: a cold process's first clip).
    (One function, not two: each compiled function adds ~0.1 s to a process's first clip.)"""
    n = out.shape[0]
    # the norm batches still running in other threads: they end, since nothing in a claimed
    # batch can fail (no allocation, no division by zero); an error in the caller before its
    # own batches are done makes ``claim_run`` mark them done (``_claims.close``)
    # (np.int64: the same specialisation `claim_run` calls from Python, not a second one for a
    # Literal[int] constant, compiled and cached only when that spin happens to run)
    while not wait_done(claims[0], n, np.int64(1 << 16)):
        pass
    total = combine_partials(out, scales, p) * unscale
    coef = _coefficient(total, max_norm, eps, policy)
    res[0], res[1] = total, coef
    factor = coef * unscale
    # a zeroing is left to the caller (rare: a fill loop compiled into every fused clip would
    # add ~0.2 s to a process's first clip); a factor of 1 writes nothing
    what = _NOTHING if factor == 1.0 or _held_back(total, policy) else SCALE
    if what == _NOTHING:
        claims[1, DONE] = n
    for s in range(coefs.shape[0]):
        coefs[s] = factor
    return what


@njit(cache=True, nogil=True)
def clip_float(addrs, sizes, seg, start, stop, proto, out, scales, p, max_norm, eps, unscale,
               policy, res, coefs, claims):
    """The fused clip over float32/float64 segments; returns the scaling items it did.
    ``coefs``: one float64 per segment, written here (the scaling factor)."""
    norm_items(addrs, sizes, seg, start, stop, p, proto, out, scales, claims[0])
    what = _after_norms(out, scales, p, max_norm, eps, unscale, policy, claims, res, coefs)
    if what == _NOTHING:
        return 0
    return scale_items(addrs, sizes, seg, start, stop, coefs, proto, claims[1])


@njit(cache=True, nogil=True)
def clip_lowp(addrs, sizes, seg, start, stop, proto, out, scales, p, max_norm, eps, unscale,
              policy, res, coefs, kind, claims):
    """``clip_float`` over float16/bfloat16 bits (``kind``: 1 float16, 2 bfloat16)."""
    run_items_lowp(np.int64(NORM), addrs, sizes, seg, start, stop, p, res, proto, out, scales,
                   kind, claims[0])
    what = _after_norms(out, scales, p, max_norm, eps, unscale, policy, claims, res, coefs)
    if what == _NOTHING:
        return 0
    return run_items_lowp(what, addrs, sizes, seg, start, stop, 0.0, coefs, proto, out, scales,
                          kind, claims[1])


@njit(cache=True, nogil=True)
def clip_f16c(addrs, sizes, seg, start, stop, proto, out, scales, p, max_norm, eps, unscale,
              policy, res, coefs, kind, claims):
    """``clip_lowp`` for float16 with the F16C conversions."""
    run_items_f16c(np.int64(NORM), addrs, sizes, seg, start, stop, p, res, proto, out, scales,
                   kind, claims[0])
    what = _after_norms(out, scales, p, max_norm, eps, unscale, policy, claims, res, coefs)
    if what == _NOTHING:
        return 0
    return run_items_f16c(what, addrs, sizes, seg, start, stop, 0.0, coefs, proto, out, scales,
                          kind, claims[1])
