"""Lazy access to mpi4py: the only module of the package that imports it.

``import tinyclipnn.distributed`` must stay cheap and work without mpi4py, so MPI is imported
on first use. ``mpi_info()`` reports the MPI library without starting MPI in a process that
was not launched by ``mpiexec`` / ``srun`` (a singleton ``MPI_Init`` in, say, a test runner
that later forks is best avoided).
"""

from __future__ import annotations

import atexit
import os
import sys
from types import ModuleType
from typing import Any

import numpy as np

# set in every rank by the launchers: MPICH/Hydra and srun --mpi=pmi2 (PMI), Open MPI, PMIx
# (srun --mpi=pmix, prterun). Slurm's own SLURM_* variables are also set in a batch script
# that was not started by srun, so they do not count.
_LAUNCHER_VARS = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK")


def _import_mpi(initialize: bool) -> ModuleType:
    try:
        import mpi4py
    except ImportError as exc:
        raise ImportError(
            "tinyclipnn.distributed needs mpi4py and an MPI library: "
            "pip install 'tinyclipnn[mpi]' (mpi4py + MPICH wheels), or on a cluster build "
            "mpi4py against the site MPI (docs: guides/distributed, 'Running on a cluster')"
        ) from exc
    if "mpi4py.MPI" not in sys.modules and not initialize:
        saved = mpi4py.rc.initialize
        mpi4py.rc.initialize = False  # import only: MPI_Get_library_version needs no MPI_Init
        try:
            from mpi4py import MPI
        finally:
            mpi4py.rc.initialize = saved
        return MPI
    from mpi4py import MPI

    return MPI


def mpi() -> ModuleType:
    """The ``mpi4py.MPI`` module, with MPI initialized (``ImportError`` with the fix if absent)."""
    MPI = _import_mpi(initialize=True)
    if not MPI.Is_initialized():  # imported earlier by mpi_info() without MPI_Init
        MPI.Init_thread()
        atexit.register(lambda: MPI.Is_finalized() or MPI.Finalize())
    return MPI


def world() -> Any:
    """``MPI.COMM_WORLD``."""
    return mpi().COMM_WORLD


def resolve(comm: Any) -> Any:
    """``comm``, or ``COMM_WORLD`` when it is None."""
    return world() if comm is None else comm


def launched_by_mpi() -> bool:
    """True when a launcher (mpiexec, mpirun, srun with PMI/PMIx) started this process."""
    return any(v in os.environ for v in _LAUNCHER_VARS)


def mpi_info() -> dict[str, Any]:
    """MPI library, mpi4py version, world size and rank (without MPI_Init outside a launcher).

    ``{"mpi4py": "not installed"}`` when mpi4py is missing; never raises.
    """
    try:
        import mpi4py
    except ImportError:
        return {"mpi4py": "not installed"}
    out: dict[str, Any] = {"mpi4py": mpi4py.__version__}
    try:
        launched = launched_by_mpi() or "mpi4py.MPI" in sys.modules
        MPI = _import_mpi(initialize=launched)
        out["library"] = MPI.Get_library_version().strip().splitlines()[0].strip()
        if launched:
            comm = mpi().COMM_WORLD
            out["world_size"], out["rank"] = comm.Get_size(), comm.Get_rank()
        else:
            out["world_size"], out["rank"] = 1, 0
            out["note"] = "not launched by mpiexec/srun"
    except Exception as exc:  # noqa: BLE001 - a broken MPI is reported, not raised
        out["error"] = f"{type(exc).__name__}: {exc}"
    return out


def mpi_type(dtype: np.dtype) -> Any:
    """The MPI datatype of a float32 / float64 numpy dtype."""
    MPI = mpi()
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return MPI.FLOAT
    if dtype == np.float64:
        return MPI.DOUBLE
    raise TypeError(f"distributed: gradients must be float32 or float64, got dtype {dtype}")
