"""Compiled kernels, their plain-numpy references, and the process state they share.

Nothing here is imported by ``import tinyclipnn`` but the plain-Python modules: ``config`` (every
CPU tunable and the numerics every backend shares), ``runtime`` (thread pool, lock, caches,
workspace, BLAS threads; one at-fork hook), ``reference`` and ``halfbits_numpy`` (numpy).
``cpu`` holds ``numba.njit`` kernels and ``cuda`` ``numba.cuda`` kernels; both are imported
lazily by the code that dispatches to them (``tinyclipnn.clip._backends``).
"""
