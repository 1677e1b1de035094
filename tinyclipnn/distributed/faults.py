"""Faults: an exception on any rank must end the whole job, not leave the other ranks blocked
in a collective forever.

MPI has no failure detection in its collectives: if rank 1 raises while rank 0 waits in an
all-reduce, rank 0 waits until the job's wall-clock limit. ``MPI_Abort`` asks the launcher
(mpiexec / srun) to kill every rank, so the job ends at once with a non-zero exit status.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any

from ._mpi import resolve

ABORT_GRACE_S = 0.5  # seconds between printing the traceback and MPI_Abort
_installed: list[Any] = []  # communicators whose hook is installed (idempotent install)


def _report_and_abort(comm: Any, exc_type: type, exc: BaseException, tb: Any) -> None:
    rank = comm.Get_rank()
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    sys.stderr.write(f"[rank {rank}] uncaught exception; aborting all "
                     f"{comm.Get_size()} ranks (MPI_Abort)\n{text}")
    sys.stderr.flush()
    sys.stdout.flush()
    # MPI_Abort makes the launcher kill every process, its output-forwarding proxies included:
    # without a pause the traceback above can be lost (seen once in CI: a job that ended with
    # no output at all). A moment lets the launcher forward it first.
    time.sleep(ABORT_GRACE_S)
    try:
        comm.Abort(1)
    finally:  # some MPI builds return from MPI_Abort before the launcher kills the job
        os._exit(1)


def abort_on_exception(comm: Any = None) -> None:
    """Install ``sys.excepthook`` (and ``threading.excepthook``) so that an uncaught exception
    on this rank prints its traceback and calls ``comm.Abort(1)`` (default ``COMM_WORLD``),
    which ends every rank of the job with a non-zero exit. Installing twice is harmless.
    What ``mpi4py`` does for ``python -m mpi4py script.py``, for code started otherwise."""
    comm = resolve(comm)
    if any(c is comm for c in _installed):
        return
    _installed.append(comm)
    previous = sys.excepthook

    def hook(exc_type: type, exc: BaseException, tb: Any) -> None:
        if issubclass(exc_type, (KeyboardInterrupt, SystemExit)) or comm.Get_size() == 1:
            previous(exc_type, exc, tb)
            return
        _report_and_abort(comm, exc_type, exc, tb)

    def thread_hook(args: Any) -> None:
        if args.exc_type is SystemExit or comm.Get_size() == 1:
            threading.__excepthook__(args)
            return
        _report_and_abort(comm, args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook


@contextlib.contextmanager
def abort_on_error(comm: Any = None) -> Iterator[None]:
    """Context manager: any exception escaping the block (including ``KeyboardInterrupt``)
    aborts the whole job when more than one rank runs; with one rank it propagates as usual.
    For code whose caller would otherwise catch the exception (a CLI turning errors into an
    exit status) and leave the other ranks waiting."""
    comm = resolve(comm)
    try:
        yield
    except BaseException as exc:
        if comm.Get_size() == 1 or (isinstance(exc, SystemExit) and not exc.code):
            raise
        _report_and_abort(comm, type(exc), exc, exc.__traceback__)
