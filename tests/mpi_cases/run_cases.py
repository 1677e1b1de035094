"""Run MPI check modules in one job (one interpreter start and kernel load for all of them):
``mpiexec -n K python tests/mpi_cases/run_cases.py clip_cases dp_cases``."""

import importlib
import sys

from _common import finish

for name in sys.argv[1:]:
    importlib.import_module(name)  # each module runs its checks at import
finish()
