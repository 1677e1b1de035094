"""DP-SGD across ranks: per-example clipping on each rank, one noise draw for the global batch."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..clip import clip_per_sample_
from ._mpi import mpi, mpi_type, resolve


class DistributedPerSampleResult(NamedTuple):
    """``grads``: per tensor, the clipped per-example gradients summed over the GLOBAL batch
    plus one draw of N(0, (noise_multiplier * max_norm)^2), identical on every rank (divide
    by ``batch_size`` for the noisy mean); ``norms``: this rank's examples' norms before
    clipping; ``num_clipped`` and ``batch_size``: over all ranks."""

    grads: list[np.ndarray]
    norms: np.ndarray
    num_clipped: int
    batch_size: int


def clip_per_sample_distributed(
    per_sample_grads: Any,
    max_norm: float,
    noise_multiplier: float = 0.0,
    rng: np.random.Generator | int | None = None,
    comm: Any = None,
    *,
    backend: str = "auto",
) -> DistributedPerSampleResult:
    """DP-SGD step for a batch split over the ranks of ``comm`` (default ``COMM_WORLD``).

    Each rank clips its own examples (``clip.clip_per_sample_``: every example to L2 norm
    ``max_norm`` across all tensors) and sums them; the sums are all-reduced. Gaussian noise
    of std ``noise_multiplier * max_norm`` is added ONCE for the global batch: rank 0 adds
    it to its sum before the all-reduce (from ``rng``, used on rank 0 only), so the privacy
    accounting of one batch of the global size holds. Adding noise on every rank would
    multiply its variance by the world size.
    """
    comm = resolve(comm)
    rank = comm.Get_rank()
    local = clip_per_sample_(per_sample_grads, max_norm,
                             noise_multiplier if rank == 0 else 0.0, rng if rank == 0 else None,
                             backend=backend)
    MPI = mpi()
    reqs = [comm.Iallreduce(MPI.IN_PLACE, [g, mpi_type(g.dtype)], op=MPI.SUM)
            for g in local.grads]
    counts = np.array([local.num_clipped, local.norms.shape[0]], np.int64)
    reqs.append(comm.Iallreduce(MPI.IN_PLACE, [counts, MPI.INT64_T], op=MPI.SUM))
    MPI.Request.Waitall(reqs)
    return DistributedPerSampleResult(local.grads, local.norms, int(counts[0]), int(counts[1]))
