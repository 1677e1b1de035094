"""The processes one training run spans: this one alone (`OneProcess`) or the ranks of an MPI
communicator (`MPIRanks`, data-parallel). The training loop of `lab.charlm` is written once
against this small interface; everything that differs between 1 process and N ranks is here.

N ranks: every rank builds the same model (``DataParallel`` broadcasts rank 0's values), draws
the same global batch and trains on its own contiguous slice of it; the gradients are averaged
before the clip, so the update is the one of a single process with the whole batch. Only rank 0
checks the output folder, prints and writes files; an exception on any rank aborts the job; a
Ctrl-C on any rank stops every rank after the same step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np

from ..distributed import DataParallel, abort_on_error
from .interrupt import InterruptGuard

__all__ = ["OneProcess", "MPIRanks"]


class OneProcess:
    """A run in this process alone: rank 0 of 1."""

    rank = 0
    size = 1
    root = True
    metadata: dict[str, Any] = {}

    def on_root(self, check: Callable[[], None]) -> None:
        """Run ``check`` (it raises for bad input)."""
        check()

    def failures_abort(self) -> contextlib.AbstractContextManager:
        """Exceptions propagate as usual."""
        return contextlib.nullcontext()

    def attach(self, model: Any, optimizer: Any) -> None:
        """Nothing to average."""

    def my_slice(self, batch_size: int) -> slice:
        """The whole batch."""
        return slice(0, batch_size)

    def before_step(self, guard: InterruptGuard) -> None:
        """A pending Ctrl-C stops here, before the step changes anything."""
        guard.check()

    def after_step(self, loss: float, guard: InterruptGuard) -> tuple[float, bool]:
        """The step's loss; never a stop (Ctrl-C is handled by `before_step`)."""
        return loss, False

    def barrier(self) -> None:
        """Nothing to wait for."""


class MPIRanks(OneProcess):
    """A data-parallel run over the ranks of ``comm`` (see the module docstring)."""

    def __init__(self, comm: Any) -> None:
        self.comm = comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.root = self.rank == 0
        self.metadata = {"ranks": self.size}
        self._local, self._summed = np.zeros(2), np.zeros(2)  # loss, Ctrl-C count

    def on_root(self, check: Callable[[], None]) -> None:
        """Run ``check`` on rank 0 and raise its ``ValueError`` / ``OSError`` on EVERY rank (a
        rank that went on alone would wait for the others in a collective forever)."""
        err = None
        if self.root:
            try:
                check()
            except (ValueError, OSError) as e:
                err = e
        err = self.comm.bcast(err, root=0)
        if err is not None:
            raise err

    def failures_abort(self) -> contextlib.AbstractContextManager:
        """An exception on any rank ends the whole job (`distributed.abort_on_error`)."""
        return abort_on_error(self.comm)

    def attach(self, model: Any, optimizer: Any) -> None:
        """Average the gradients over the ranks before the optimizer's clip and update."""
        DataParallel(model, self.comm).attach(optimizer)

    def my_slice(self, batch_size: int) -> slice:
        """This rank's contiguous share of the global batch."""
        return slice(self.rank * batch_size // self.size, (self.rank + 1) * batch_size // self.size)

    def before_step(self, guard: InterruptGuard) -> None:
        """Nothing: the ranks agree on where to stop after the step (`after_step`)."""

    def after_step(self, loss: float, guard: InterruptGuard) -> tuple[float, bool]:
        """The mean loss over the ranks, and whether any rank saw a Ctrl-C (then all stop)."""
        self._local[:] = loss, float(guard.pending)
        self.comm.Allreduce(self._local, self._summed)  # op: MPI.SUM, mpi4py's default
        return self._summed[0] / self.size, bool(self._summed[1] > 0)

    def barrier(self) -> None:
        """Wait for every rank."""
        self.comm.Barrier()
