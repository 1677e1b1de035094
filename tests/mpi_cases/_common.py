"""Shared by the MPI check modules, run by ``mpiexec -n K python tests/mpi_cases/run_cases.py``.

Each check is decided on every rank and the verdicts are all-gathered, so every rank agrees;
rank 0 prints ``PASS name`` or ``FAIL name ...`` (the pytest side looks for those lines). An
uncaught exception aborts the whole job (non-zero exit) instead of hanging it.
"""

import sys

import numpy as np
from mpi4py import MPI

from tinyclipnn.distributed import abort_on_exception

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
abort_on_exception(comm)
_failed: list[str] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    """Record one check: passes only when it holds on every rank."""
    every = comm.allgather((bool(ok), detail))
    if all(o for o, _ in every):
        if rank == 0:
            print(f"PASS {name}", flush=True)
        return
    _failed.append(name)
    if rank == 0:
        bad = [(r, d) for r, (o, d) in enumerate(every) if not o]
        print(f"FAIL {name} (size {size}) ranks {bad}", flush=True)


def same_on_all_ranks(x) -> bool:
    """True when ``x`` (array or scalar or state) is bit-identical on every rank."""
    every = comm.allgather(np.asarray(x).tobytes() if not isinstance(x, (dict, list)) else
                           repr(x))
    return all(e == every[0] for e in every)


def finish() -> None:
    comm.Barrier()
    sys.exit(1 if _failed else 0)
