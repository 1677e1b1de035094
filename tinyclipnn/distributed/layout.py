"""Where each rank's shard of a flat buffer lies, and the replicate x shard split of a job."""

from __future__ import annotations

from typing import Any

from ..kernels.config import NORM_BLOCK
from ._mpi import resolve

# Shard boundaries at multiples of this give group norms bit-identical to one process: a
# constant of the distributed contract, a multiple of the kernels' norm block (whose partials
# are combined in order), never of a CPU speed knob.
SHARD_ALIGN = 1 << 15
if SHARD_ALIGN % NORM_BLOCK:
    raise ValueError(f"distributed.SHARD_ALIGN ({SHARD_ALIGN}) must be a multiple of the "
                      f"kernels' NORM_BLOCK ({NORM_BLOCK})")


def shard_counts(n: int, shards: int, align: int = SHARD_ALIGN) -> list[int]:
    """Element count of each of ``shards`` contiguous shards of ``0..n``.

    ``0..n`` is cut into blocks of ``align`` elements (the last one partial) and the blocks
    are dealt out evenly, in order: shard boundaries fall on the norms' block grid
    (``align = SHARD_ALIGN``), so a group norm over the shards is bit-identical to the
    one-process norm, and no shard holds more than one block above ``n / shards``. With
    fewer blocks than shards, trailing shards are empty.
    """
    if shards < 1 or align < 1:
        raise ValueError(f"shard_counts: shards and align must be >= 1, got {shards}, {align}")
    base, extra = divmod(-(-n // align), shards)
    edges = [min(n, (r * base + min(r, extra)) * align) for r in range(shards + 1)]
    return [hi - lo for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


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
