"""Resumable sweeps over a grid of run configurations, on local processes or a Dask cluster.

``run_sweep(cell_fn, configs, out, workers=..., scheduler=..., dask_local=...)``: see `runner`.
"""

from .cellio import Checkpoint, atomic_write, cell_key
from .executors import default_workers, open_pool
from .runner import SweepResult, collect_sweep, run_sweep

__all__ = ["Checkpoint", "SweepResult", "atomic_write", "cell_key", "collect_sweep",
           "default_workers", "open_pool", "run_sweep"]
