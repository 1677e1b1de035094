"""Device functions shared by the kernels: NaN-propagating max, |x|^p, and fixed-order block
reductions over shared memory (a tree: thread t adds t + s for s = n/2, n/4, ..., 1), so a
block's result never depends on timing. ``n`` is the block size, a power of two."""

from __future__ import annotations

from .. import norm_scalars
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


pow_abs = cuda.jit(device=True)(norm_scalars.pow_abs)
root = cuda.jit(device=True)(norm_scalars.root)


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
