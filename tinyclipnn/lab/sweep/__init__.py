"""Resumable sweeps over a grid of run configurations, on local processes or a Dask cluster.

``run_sweep(cell_fn, configs, out, workers=..., scheduler=..., dask_local=..., rerun=...)``: see
`runner`. A cell's result is kept only when it ran its whole budget and is reused only by the
same code (`fingerprint`); a cell cut short by Ctrl-C is recorded as interrupted (`cell`).
"""

from .cellio import Checkpoint, atomic_write, cell_key
from .executors import default_workers, open_pool
from .fingerprint import code_fingerprint
from .runner import SweepResult, collect_sweep, run_sweep

__all__ = ["Checkpoint", "SweepResult", "atomic_write", "cell_key", "code_fingerprint",
           "collect_sweep", "default_workers", "open_pool", "run_sweep"]
