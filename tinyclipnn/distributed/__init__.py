"""Training past one machine with MPI (``mpi4py``, imported lazily on first use).

- :class:`DataParallel`: replicate the model, average gradients with bucketed all-reduces.
- :class:`ZeroOptimizer`: shard the optimizer state (1/N per rank), clip over the shard group.
- :func:`hybrid_groups`: replicate x shard communicators for hybrid sharding.
- :func:`clip_per_sample_distributed`: DP-SGD with one noise draw for the global batch.
- :func:`abort_on_exception` / :func:`abort_on_error`: an exception on one rank ends the job.
- ``SHARD_ALIGN``: shard boundaries at multiples of it give group norms bit-identical to one
  process (a multiple of the norms' fixed block); ``clip.*(..., group=comm)`` does the reduction.

Launch with ``mpiexec -n N python script.py`` (or ``srun``); ``pip install 'tinyclipnn[mpi]'``.
``import tinyclipnn.distributed`` does not import mpi4py.
"""

from ._mpi import launched_by_mpi, mpi_info, world
from .data_parallel import DataParallel, broadcast_parameters, bucket_bounds
from .dp_sgd import DistributedPerSampleResult, clip_per_sample_distributed
from .faults import abort_on_error, abort_on_exception
from .layout import SHARD_ALIGN, hybrid_groups, shard_counts
from .zero import ZeroOptimizer

__all__ = [
    "SHARD_ALIGN",
    "DataParallel",
    "DistributedPerSampleResult",
    "ZeroOptimizer",
    "abort_on_error",
    "abort_on_exception",
    "broadcast_parameters",
    "bucket_bounds",
    "clip_per_sample_distributed",
    "hybrid_groups",
    "launched_by_mpi",
    "mpi_info",
    "shard_counts",
    "world",
]
