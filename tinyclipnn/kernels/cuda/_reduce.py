"""Device functions shared by the kernels: NaN-propagating max, |x|^p, and fixed-order block
reductions over shared memory (a tree: thread t adds t + s for s = n/2, n/4, ..., 1), so a
block's result never depends on timing. ``n`` is the block size, a power of two."""

from __future__ import annotations

import math

from ._runtime import cuda_module

cuda = cuda_module()


@cuda.jit(device=True)
def nan_max(a, b):
    """max(a, b) where NaN wins."""
    if a != a:
        return a
    if b != b or b > a:
        return b
    return a


@cuda.jit(device=True)
def pow_abs(v, p):
    """|v|^p in float64 (p = 2 and 1 without pow)."""
    if p == 2.0:
        return v * v
    if p == 1.0:
        return abs(v)
    return abs(v) ** p


@cuda.jit(device=True)
def root(s, p):
    """s^(1/p) for the p-norm (p = 2 with sqrt, p = 1 and inf unchanged)."""
    if p == 2.0:
        return math.sqrt(s)
    if p == 1.0 or p == math.inf:
        return s
    return s ** (1.0 / p)


@cuda.jit(device=True)
def block_sum(sh, tid, n):
    """Sum of ``sh[0:n]`` into ``sh[0]`` (every thread of the block must call it)."""
    cuda.syncthreads()
    s = n // 2
    while s > 0:
        if tid < s:
            sh[tid] += sh[tid + s]
        cuda.syncthreads()
        s //= 2


@cuda.jit(device=True)
def block_sum_max(sh_s, sh_m, tid, n):
    """Sum of ``sh_s[0:n]`` into ``sh_s[0]`` and NaN-propagating max of ``sh_m`` into
    ``sh_m[0]`` in one tree (every thread of the block must call it)."""
    cuda.syncthreads()
    s = n // 2
    while s > 0:
        if tid < s:
            sh_s[tid] += sh_s[tid + s]
            sh_m[tid] = nan_max(sh_m[tid], sh_m[tid + s])
        cuda.syncthreads()
        s //= 2


@cuda.jit(device=True)
def flat_chunk(n, chunk):
    """[lo, hi) of the elements this block owns in a flat array of ``n`` elements."""
    lo = cuda.blockIdx.x * chunk
    hi = lo + chunk
    return lo, (hi if hi < n else n)
