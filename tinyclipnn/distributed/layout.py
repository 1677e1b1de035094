"""Where each rank's shard of a flat buffer lies, and the replicate x shard split of a job."""

from __future__ import annotations

from typing import Any

from ._mpi import resolve
from ._shim import SHARD_ALIGN


def shard_counts(n: int, shards: int, align: int = SHARD_ALIGN) -> list[int]:
    """Element count of each of ``shards`` contiguous shards of ``0..n``.

    Every shard but the last non-empty one has a multiple of ``align`` elements, so shard
    boundaries fall on the clip kernels' chunk grid (``align = SHARD_ALIGN``) and a group norm
    over the shards is bit-identical to the one-process norm. Shards are as even as that
    allows; with ``n < shards * align`` trailing shards are empty.
    """
    if shards < 1 or align < 1:
        raise ValueError(f"shard_counts: shards and align must be >= 1, got {shards}, {align}")
    per = -(-n // (shards * align)) * align if n else 0  # ceil to a multiple of align
    return [max(0, min(per, n - r * per)) for r in range(shards)]


def hybrid_groups(comm: Any = None, shard_size: int | None = None) -> tuple[Any, Any]:
    """Split ``comm`` (default ``COMM_WORLD``) into ``(replicate_comm, shard_comm)``.

    Ranks ``g * shard_size ... (g + 1) * shard_size - 1`` form shard group ``g`` (the model's
    state is sharded across them, and the gradient norm is reduced across them only); ranks
    with the same position in their shard group form a replicate group (their gradients are
    averaged, their shards are identical). ``shard_size=None`` shards over the whole ``comm``.
    """
    comm = resolve(comm)
    size, rank = comm.Get_size(), comm.Get_rank()
    shard_size = size if shard_size is None else shard_size
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1 \
            or size % shard_size:
        raise ValueError(f"hybrid_groups: shard_size must be an int that divides the world "
                         f"size {size}, got {shard_size!r}")
    shard_comm = comm.Split(color=rank // shard_size, key=rank)
    replicate_comm = comm.Split(color=rank % shard_size, key=rank)
    return replicate_comm, shard_comm
