"""DataParallel: replicate a model on every rank and average gradients with bucketed all-reduces."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..clip import GradBuffer
from ._mpi import mpi, mpi_type, resolve
from .faults import abort_on_exception


def check_same_parameters(comm: Any, named: list[tuple[str, Any]], who: str) -> None:
    """Raise the same ``ValueError`` on every rank when ranks hold different parameter lists
    (count, names, shapes or dtypes): averaging mismatched buffers would silently mix
    unrelated numbers, or hang when the sizes differ."""
    mine = [(n, tuple(p.data.shape), str(p.data.dtype)) for n, p in named]
    every = comm.allgather(mine)
    ref = every[0]
    for rank, theirs in enumerate(every[1:], start=1):
        if len(theirs) != len(ref):
            raise ValueError(
                f"{who}: rank {rank} has {len(theirs)} parameters but rank 0 has {len(ref)}; "
                "every rank must build the same model (same constructor arguments)")
        for (n0, s0, d0), (n1, s1, d1) in zip(ref, theirs, strict=True):
            if (n0, s0, d0) != (n1, s1, d1):
                raise ValueError(
                    f"{who}: parameter {n0!r} is {s0} {d0} on rank 0 but rank {rank} has "
                    f"{n1!r} {s1} {d1}; every rank must build the same model")


def broadcast_parameters(comm: Any, params: list[Any], root: int = 0) -> None:
    """Overwrite every rank's parameter values with rank ``root``'s (one Bcast per dtype)."""
    by_dtype: dict[np.dtype, list[Any]] = {}
    for p in params:
        by_dtype.setdefault(p.data.dtype, []).append(p)
    for dtype, group in by_dtype.items():
        flat = np.concatenate([p.data.reshape(-1) for p in group]) if group else np.zeros(0)
        comm.Bcast([flat, mpi_type(dtype)], root=root)
        offset = 0
        for p in group:
            p.data[...] = flat[offset:offset + p.data.size].reshape(p.data.shape)
            offset += p.data.size


def bucket_bounds(n: int, itemsize: int, bucket_mb: float | None) -> list[tuple[int, int]]:
    """``[lo, hi)`` element ranges of at most ``bucket_mb`` MiB covering ``0..n`` (one range
    when ``bucket_mb`` is None or inf)."""
    if n == 0:
        return []
    if bucket_mb is None or math.isinf(bucket_mb):
        return [(0, n)]
    step = max(1, int(bucket_mb * (1 << 20)) // itemsize)
    return [(lo, min(n, lo + step)) for lo in range(0, n, step)]


class DataParallel:
    """Data-parallel training over an MPI communicator.

    Every rank builds the same model and runs it on its own slice of the batch. At
    construction the ranks check that they hold the same parameters (a clear ``ValueError``
    on every rank otherwise), rank 0's parameter (and buffer) values are broadcast, and the gradients are
    wired into one contiguous ``GradBuffer``. After ``backward()``, :meth:`sync_grads`
    averages the buffer over the ranks with one non-blocking ``Iallreduce`` per bucket of
    ``bucket_mb`` MiB (``None`` / ``inf``: one all-reduce for the whole buffer), so every rank
    holds the same averaged gradient and the clip runs once on identical numbers.
    :meth:`attach` makes an optimizer do the sync itself, just before its ``clipper``.

    Parameters
    ----------
    module
        The model (an ``nn.Module``); its trainable parameters must share one dtype.
    comm
        An mpi4py communicator (default ``MPI.COMM_WORLD``).
    bucket_mb
        All-reduce bucket size in MiB (default 25, as PyTorch DDP).
    broadcast
        Copy rank 0's parameter values to every rank (default True).
    abort_on_error
        Install :func:`abort_on_exception` so that an uncaught exception on
        any rank ends the whole job instead of leaving the others blocked.
    """

    def __init__(self, module: Any, comm: Any = None, bucket_mb: float | None = 25.0, *,
                 broadcast: bool = True, abort_on_error: bool = True) -> None:
        if bucket_mb is not None and not (isinstance(bucket_mb, (int, float))
                                          and bucket_mb > 0):
            raise ValueError(f"DataParallel: bucket_mb must be a number > 0 (MiB) or None for "
                             f"one all-reduce, got {bucket_mb!r}")
        if not hasattr(module, "named_parameters"):
            raise TypeError(f"DataParallel: module must be an nn.Module, got "
                            f"{type(module).__name__}")
        self.module = module
        self.comm = resolve(comm)
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        check_same_parameters(self.comm, named, "DataParallel")
        self.params = [p for _, p in named]
        self.buffer = GradBuffer(self.params)  # TypeError for mixed dtypes, before any change
        if broadcast:
            buffers = getattr(module, "named_buffers", lambda: iter(()))()
            broadcast_parameters(self.comm, self.params + [_Array(b) for _, b in buffers])
        if abort_on_error:
            abort_on_exception(self.comm)
        flat = self.buffer.flat
        self.bucket_mb = bucket_mb
        self.buckets = bucket_bounds(flat.size, flat.itemsize, bucket_mb)
        self._synced = False
        self._ids = {id(p) for p in self.params}

    @property
    def rank(self) -> int:
        return self.comm.Get_rank()

    @property
    def world_size(self) -> int:
        return self.comm.Get_size()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def parameters(self) -> Iterator[Any]:
        return self.module.parameters()

    def named_parameters(self) -> Iterator[tuple[str, Any]]:
        return self.module.named_parameters()

    def state_dict(self) -> Any:
        return self.module.state_dict()

    def sync_grads(self) -> None:
        """Average the gradients over the ranks in place (every rank must call it)."""
        self.buffer.sync()
        flat = self.buffer.flat
        n = self.comm.Get_size()
        if n > 1:
            MPI = mpi()
            t = mpi_type(flat.dtype)
            reqs = [self.comm.Iallreduce(MPI.IN_PLACE, [flat[lo:hi], t], op=MPI.SUM)
                    for lo, hi in self.buckets]
            MPI.Request.Waitall(reqs)
            np.divide(flat, n, out=flat)
        self._synced = True

    def attach(self, optimizer: Any) -> Any:
        """Make ``optimizer.step()`` average the gradients first (unless :meth:`sync_grads`
        ran since the last step), then run the optimizer's own ``clipper`` if it has one.
        Returns the optimizer."""
        if isinstance(optimizer.clipper, _SyncThenClip):
            raise ValueError("DataParallel.attach: this optimizer is already attached")
        optimizer.clipper = _SyncThenClip(self, optimizer.clipper)
        return optimizer

    def __repr__(self) -> str:
        return (f"DataParallel({type(self.module).__name__}, rank {self.rank}/"
                f"{self.world_size}, {self.buffer.flat.size} x {self.buffer.flat.dtype}, "
                f"{len(self.buckets)} bucket(s))")


class _Array:
    """A buffer array seen as a parameter by :func:`broadcast_parameters`."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data


class _SyncThenClip:
    """An optimizer ``clipper``: sync the gradients, then run the original clipper."""

    def __init__(self, dp: DataParallel, inner: Any) -> None:
        self.dp, self.inner = dp, inner

    def __call__(self, params: Any) -> Any:
        dp = self.dp
        if not dp._synced:
            dp.sync_grads()
        dp._synced = False  # the next step needs a fresh sync
        if self.inner is None:
            return None
        if len(params) == len(dp.params) and {id(p) for p in params} == dp._ids:
            params = dp.buffer  # the whole model: one kernel pass over the flat buffer
        return self.inner(params)

    def __getattr__(self, name: str) -> Any:  # label, state_dict, ... of the inner clipper
        if name in ("dp", "inner"):
            raise AttributeError(name)
        return getattr(self.inner, name)
