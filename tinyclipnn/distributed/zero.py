"""ZeroOptimizer: optimizer state sharded over the ranks (ZeRO stage 1-2 / FSDP ``SHARD_GRAD_OP``)."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from ..autograd import Tensor
from ..clip import ClipGradValue, GradBuffer, clip_grad_value_
from ..optim.optimizer import run_closure
from ._mpi import mpi, mpi_type, resolve
from .data_parallel import _Array, broadcast_parameters, check_same_parameters
from .faults import abort_on_exception
from .layout import SHARD_ALIGN, shard_counts


def _param_groups(params: Any) -> list[dict[str, Any]]:
    if isinstance(params, Tensor):
        raise TypeError("ZeroOptimizer: params must be an iterable of Tensors or of dicts "
                        "{'params': [...], ...}, got a single Tensor")
    groups = list(params)
    if not groups:
        raise ValueError("ZeroOptimizer: got an empty parameter list")
    if not isinstance(groups[0], dict):
        groups = [{"params": groups}]
    out = []
    for g in groups:
        ps = g["params"]
        out.append({**g, "params": [ps] if isinstance(ps, Tensor) else list(ps)})
    return out


def _accepts_group(fn: Any) -> bool:
    try:
        return "group" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _shard_clipper(clipper: Any, comm: Any) -> Any:
    """``clipper`` as a callable on the local shard whose norm is the whole model's.

    A clipper object with a ``group`` attribute (``ClipGradNorm``, ``AutoClip``, ``ZClip``)
    gets ``comm`` when its group is None, and must not carry another group; a function that
    takes ``group=`` is called with ``comm``; element-wise value clipping needs no group.
    Anything else would clip each shard by its own norm: ``TypeError``."""
    if isinstance(clipper, ClipGradValue) or getattr(clipper, "func", clipper) is clip_grad_value_:
        return clipper
    if hasattr(clipper, "group") and callable(clipper):
        if clipper.group is not None and clipper.group is not comm:
            MPI = mpi()
            if MPI.Comm.Compare(clipper.group, comm) not in (MPI.IDENT, MPI.CONGRUENT):
                raise ValueError(
                    "ZeroOptimizer: clipper.group is not this optimizer's shard communicator; "
                    "the norm must be reduced over the shard group only (a replicate x shard "
                    "group counts each gradient once per replica). Leave clipper.group None "
                    "and ZeroOptimizer sets it")
        clipper.group = comm
        return clipper
    if _accepts_group(clipper):
        return lambda shard: clipper(shard, group=comm)
    raise TypeError(
        f"ZeroOptimizer: clipper must take group= (a tinyclipnn.clip function such as "
        f"functools.partial(clip_grad_norm_, max_norm=1.0), or a ClipGradNorm / AutoClip / "
        f"ZClip object); got {clipper!r}, which would clip each shard by its own norm")


class ZeroOptimizer:
    """Data-parallel optimizer whose state is split across the ranks of ``comm``.

    The parameters are laid out in one flat buffer split into one contiguous shard per rank
    (boundaries at multiples of ``align``, default ``SHARD_ALIGN``). Each ``step()``:
    the gradient buffer is reduce-scattered (summed) so each rank gets its shard of the sum,
    averaged over the whole job; the ``clipper`` runs on the shard with ``group=`` the shard
    communicator, so the norm is the whole model's and every rank applies the same
    coefficient (or skips together); ``optimizer_class`` updates only this rank's shard and
    keeps only its state (1/N of the memory); the shards are all-gathered back into every
    rank's parameters.

    Parameters
    ----------
    optimizer_class
        E.g. ``optim.Adam``; built over this rank's pieces of the
        parameters (one tensor per parameter piece, so parameter groups keep their
        hyper-parameters).
    params
        Tensors or parameter-group dicts, the same on every rank.
    comm
        The shard communicator (default ``COMM_WORLD``).
    replicate_comm
        For hybrid sharding (see ``hybrid_groups``): ranks holding the same
        shard; their gradients are averaged over it. The norm is reduced over ``comm``
        only (over a replicate group too it would count the model several times).
    align
        Shard boundary multiple (``SHARD_ALIGN``: norms bit-identical to one process).
    clipper
        A clipper object with a ``group`` (``clip.ClipGradNorm(1.0)``, ``AutoClip``,
        ``ZClip``; its group is set to ``comm``) or a function taking ``group=``
        (``functools.partial(clip.clip_grad_norm_, max_norm=1.0)``). It is called on this
        rank's shard of the flat gradient (one array), so with ``SHARD_ALIGN`` shards its
        norm is bit-identical to the one-process norm of the whole gradient; a report
        with ``skipped`` skips the update on every rank. A clipper without ``group=``
        (which would clip each shard by its own norm) is a ``TypeError``, a group other
        than ``comm`` a ``ValueError``; element-wise ``clip_grad_value_`` is fine.
    **kwargs
        Hyper-parameters for ``optimizer_class`` (``lr=...``).
    """

    def __init__(self, optimizer_class: type, params: Any, comm: Any = None, *,
                 replicate_comm: Any = None, align: int = SHARD_ALIGN, clipper: Any = None,
                 abort_on_error: bool = True, **kwargs: Any) -> None:
        if isinstance(align, bool) or not isinstance(align, int) or align < 1:
            raise ValueError(f"ZeroOptimizer: align must be an int >= 1, got {align!r}")
        groups = _param_groups(params)
        probe = Tensor(np.zeros(1), requires_grad=True)
        optimizer_class([{"params": [probe]}], **kwargs)  # bad hyper-parameters fail here
        flat_list = [p for g in groups for p in g["params"]]
        dtypes = {p.data.dtype for p in flat_list}
        if len(dtypes) != 1 or dtypes.pop() not in (np.float32, np.float64):
            raise TypeError("ZeroOptimizer: parameters must all be float32 or all float64, "
                            f"got {sorted({str(p.data.dtype) for p in flat_list})}")
        self.comm = resolve(comm)
        self.replicate_comm = replicate_comm
        check_same_parameters(self.comm, [(str(i), p) for i, p in enumerate(flat_list)],
                              "ZeroOptimizer")
        if replicate_comm is not None:
            check_same_parameters(replicate_comm, [(str(i), p) for i, p in
                                                   enumerate(flat_list)], "ZeroOptimizer")
        self.clipper = None if clipper is None else _shard_clipper(clipper, self.comm)
        self.params = flat_list
        n_ranks, rank = self.comm.Get_size(), self.comm.Get_rank()
        self.buffer = GradBuffer(flat_list)
        n = self.buffer.flat.size
        self.counts = shard_counts(n, n_ranks, align)
        self.displs = [sum(self.counts[:r]) for r in range(n_ranks)]
        self.lo = self.displs[rank]
        self.hi = self.lo + self.counts[rank]
        # parameters become views into one flat array, so the all-gather writes them directly
        self.flat_params = np.empty(n, self.buffer.flat.dtype)
        for p, lo, hi in zip(flat_list, self.buffer.offsets[:-1], self.buffer.offsets[1:],
                             strict=True):
            view = self.flat_params[lo:hi].reshape(p.data.shape)
            view[...] = p.data
            p.data = view
        broadcast_parameters(self.comm, [_Array(self.flat_params)])
        if replicate_comm is not None:
            broadcast_parameters(replicate_comm, [_Array(self.flat_params)])
        self.shard_grad = np.zeros(self.hi - self.lo, self.flat_params.dtype)
        clip_shard = None if self.clipper is None else (lambda _: self.clipper(self.shard_grad))
        self.optimizer = optimizer_class(self._shard_groups(groups), clipper=clip_shard,
                                         **kwargs)
        if abort_on_error:
            abort_on_exception(self.comm)

    def _shard_groups(self, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each user group restricted to this rank's shard: one tensor per parameter piece,
        its data a view of the flat parameters and its grad a view of the shard gradient."""
        out, offsets = [], iter(zip(self.buffer.offsets[:-1], self.buffer.offsets[1:], strict=True))
        for g in groups:
            pieces = []
            for _ in g["params"]:
                lo, hi = (int(v) for v in next(offsets))
                a, b = max(lo, self.lo), min(hi, self.hi)
                if a < b:
                    t = Tensor(self.flat_params[a:b], requires_grad=True)
                    t.grad = self.shard_grad[a - self.lo:b - self.lo]
                    pieces.append(t)
            out.append({**g, "params": pieces})
        return out

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """The inner optimizer's groups (this rank's pieces), for learning-rate schedules."""
        return self.optimizer.param_groups

    @property
    def shard_params(self) -> list[Tensor]:
        """This rank's parameter pieces (what the inner optimizer updates)."""
        return [p for g in self.optimizer.param_groups for p in g["params"]]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero the gradient buffer in place (it stays wired to the parameters)."""
        self.buffer.zero_grad()

    def reduce_scatter_grads(self) -> None:
        """This rank's shard of the gradient, averaged over every rank of the job."""
        MPI = mpi()
        self.buffer.sync()
        t = mpi_type(self.shard_grad.dtype)
        self.comm.Reduce_scatter([self.buffer.flat, t], [self.shard_grad, t],
                                 recvcounts=self.counts, op=MPI.SUM)
        total = self.comm.Get_size()
        if self.replicate_comm is not None:
            self.replicate_comm.Allreduce(MPI.IN_PLACE, [self.shard_grad, t], op=MPI.SUM)
            total *= self.replicate_comm.Get_size()
        np.divide(self.shard_grad, total, out=self.shard_grad)

    def all_gather_params(self) -> None:
        """Every rank's updated shard into every rank's parameters."""
        MPI = mpi()
        t = mpi_type(self.flat_params.dtype)
        self.comm.Allgatherv(MPI.IN_PLACE, [self.flat_params, (self.counts, self.displs), t])

    @property
    def last_clip(self) -> Any:
        """The clipper's report of the last step (the same on every rank)."""
        return self.optimizer.last_clip

    def step(self, closure: Any = None) -> Any:
        """Reduce-scatter, clip the shard over the shard group, update the shard (unless the
        clip report says ``skipped``: then no rank updates), all-gather. ``closure`` (as in
        PyTorch: recompute the loss and gradients) runs first; its value is returned."""
        loss = run_closure(closure)
        self.reduce_scatter_grads()
        self.optimizer.step()  # runs the shard clipper first, as any Optimizer
        self.all_gather_params()
        return loss

    def state_nbytes(self) -> int:
        """Bytes of optimizer state held by this rank (about 1/N of the unsharded optimizer's)."""
        return sum(v.nbytes for s in self.optimizer.state.values() for v in s.values()
                   if isinstance(v, np.ndarray))

    def state_dict(self) -> dict[str, Any]:
        """This rank's shard of the optimizer state (save one file per rank)."""
        return {"shard": (self.lo, self.hi), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if tuple(state_dict["shard"]) != (self.lo, self.hi):
            raise ValueError(f"ZeroOptimizer.load_state_dict: the state is for shard "
                             f"{tuple(state_dict['shard'])}, this rank holds ({self.lo}, {self.hi}); "
                             "load each rank's own file with the same world size and align")
        self.optimizer.load_state_dict(state_dict["optimizer"])

    def __repr__(self) -> str:
        return (f"ZeroOptimizer({type(self.optimizer).__name__}, shard [{self.lo}, {self.hi}) "
                f"of {self.flat_params.size} on rank {self.comm.Get_rank()}/"
                f"{self.comm.Get_size()})")
