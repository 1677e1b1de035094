"""Every tunable of the CPU kernels and the numerics every backend shares, each with the
measurement that chose it (plain Python: importing this never imports numba). The CUDA
backend's launch geometry is in ``cuda/_config.py``.

Two units, kept apart on purpose:

- ``NORM_BLOCK`` is numerics: each array is cut into blocks of ``NORM_BLOCK`` elements from
  its start, each block gives one float64 partial, and partials are combined strictly in
  order. It fixes every norm's bits, so it never changes for speed. A flat vector split into
  shards at multiples of it gives the same partials on each shard, which is what makes a
  ``group=`` norm over sharded gradients bit-identical to the one-process norm
  (``distributed.SHARD_ALIGN`` is a multiple of it).
- ``CHUNK`` is speed: the fewest elements a thread claims at once (whole blocks). Retuning it
  changes no result.
"""

# ---- numerics (every backend and the numpy reference) ---------------------------------------

# Elements per norm partial. Chosen as the parallel work unit (AMD EPYC, AVX2, 2 threads, 32M
# float32 norm: 8K: 5.6 ms, 32K: 4.3 ms, 128K: 4.4 ms, 1M: 4.9 ms (load imbalance); 32K
# float32 = 128 KiB fits L2 and amortises the per-block overhead (~0.1 us)).
NORM_BLOCK = 1 << 15

# Float64 partial sums below this may have underflowed: the block is recomputed scaled.
TINY = 1e-290

# ---- CPU: threads ------------------------------------------------------------------------

# The fewest elements a thread claims at once; a multiple of NORM_BLOCK. One block: claims
# cost one atomic add (~20 ns), against ~10 us of work per block.
CHUNK = NORM_BLOCK

# Below this many elements one thread is used: a parallel launch costs ~30-50 us
# (measured with 2 threads: 256K float32 norm 55 us serial, 60 us on 2 threads).
PARALLEL_MIN = 1 << 18

# ``runtime.claim_run``: each thread takes about this many batches of work items, so a
# thread that starts late or is descheduled costs at most one batch of imbalance at the end.
CLAIMS_PER_THREAD = 16

# ``runtime.claim_run``: reads of the shared counter (~1 ns each) the caller spins for before
# it checks its pool threads again; the batches still in flight when the caller runs out of
# work end within one batch time (tens of microseconds), far sooner than a sleeping thread is
# woken.
SPIN_POLLS = 1 << 16

# ---- CPU: clipping kernels ---------------------------------------------------------------

# Segment tables (addresses of a list of arrays) kept for reuse: an optimizer clips the same
# few lists every step; building a table for 1,000 arrays costs ~1-2 ms (``a.ctypes.data``).
TABLE_CACHE_SIZE = 8

# float16/bfloat16 scaling runs a float32 fast path per block of this many values and redoes a
# block exactly when one of its values is near a rounding midpoint (float16: ~0.07% of values,
# so ~4% of 64-value blocks; bfloat16 rarely). Measured (AMD EPYC Zen 3, one thread, 32K
# float16 N(0,1) values in L2, c = 1/5657, ns per value): 32: 0.295, 64: 0.284, 128: 0.409
# (more blocks redone; 64 is also where the constant-length block loop unrolls).
HALF_SCALE_BLOCK = 64

# ``col_sum``: columns per work item (not measured: its 8 KiB of float64 accumulators fit L1).
COL_SUM_BLOCK = 1024

# ---- CPU: matrix products and recurrent kernels ---------------------------------------------

# OpenBLAS's own threshold: a GEMM of m * n * k <= 65536 * GEMM_MULTITHREAD_THRESHOLD (4 by
# default) multiply-adds runs single-threaded (interface/gemm.c); ``gemm`` sends such
# products straight to numpy (the BLAS thread-count switch costs ~4 us).
BLAS_SERIAL_WORK = 65536 * 4

# Multiply-adds before ``matmul`` splits its rows over threads (a split costs ~50 us).
SPLIT_MIN_WORK = 4_000_000

# Multiply-adds in the recurrent matmuls before the batch is split over threads.
PARALLEL_MIN_WORK = 2_000_000

# dW_hh's GRU n rows take r * dn, formed a quarter of the steps at a time.
GRU_DW_CHUNKS = 4

# ---- CPU: workspace (``runtime.empty``) ----------------------------------------------------

# Smaller arrays come from malloc's heap cheaply: not pooled.
WORKSPACE_MIN_BYTES = 256 * 1024

# Total kept; past it, idle arrays are dropped, oldest shape first.
WORKSPACE_MAX_BYTES = 256 * 1024 * 1024

if CHUNK % NORM_BLOCK:
    raise ValueError(f"kernels.config: CHUNK ({CHUNK}) must be a multiple of NORM_BLOCK "
                     f"({NORM_BLOCK})")
