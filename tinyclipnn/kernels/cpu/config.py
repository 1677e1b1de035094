"""Tunable constants of the CPU clipping kernels (plain Python: importing this never imports numba).

``CHUNK`` is also the unit of every norm's fixed-order reduction: each array is cut into chunks
of ``CHUNK`` elements from its start, each chunk gives one float64 partial, and partials are
combined strictly in order. A flat vector split into shards at multiples of ``CHUNK`` therefore
gives the same partials on each shard, which is what makes a ``group=`` norm over sharded
gradients bit-identical to the one-process norm (``tinyclipnn.clip.SHARD_ALIGN``).
"""

# Elements per work item. Measured (issue 4, AMD EPYC, AVX2, 2 threads, 32M float32 norm):
# 8K: 5.6 ms, 32K: 4.3 ms, 128K: 4.4 ms, 1M: 4.9 ms (load imbalance); 32K float32 = 128 KiB
# fits L2 and amortises the per-item overhead (~0.1 us).
CHUNK = 1 << 15

# Below this many elements one thread is used: a parallel launch costs ~30-50 us
# (measured with 2 threads: 256K float32 norm 55 us serial, 60 us on 2 threads).
PARALLEL_MIN = 1 << 18

# Segment tables (addresses of a list of arrays) kept for reuse: an optimizer clips the same
# few lists every step; building a table for 1,000 arrays costs ~1-2 ms (``a.ctypes.data``).
TABLE_CACHE_SIZE = 8

# Float64 partial sums below this may have underflowed: the chunk is recomputed scaled.
TINY = 1e-290

# float16/bfloat16 scaling runs a float32 fast path per block of this many values and redoes a
# block exactly when one of its values is near a rounding midpoint (float16: ~0.07% of values,
# so ~4% of 64-value blocks; bfloat16 rarely). Measured (issue 10, AMD EPYC Zen 3, one thread,
# 32K float16 N(0,1) values in L2, c = 1/5657, ns per value): 32: 0.295, 64: 0.284,
# 128: 0.409 (more blocks redone; 64 is also where the constant-length block loop unrolls).
BLOCK = 64

# ``claim_run`` (``_threads``): each thread takes about this many batches of work items, so a
# thread that starts late or is descheduled costs at most one batch of imbalance at the end.
CLAIMS_PER_THREAD = 16

# ``claim_run``: reads of the shared counter (~1 ns each) the caller spins for before it checks
# its pool threads again; the batches still in flight when the caller runs out of work end
# within one batch time (tens of microseconds), far sooner than a sleeping thread is woken.
SPIN_POLLS = 1 << 16
