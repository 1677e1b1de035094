"""Compiled kernels and their plain-numpy references.

Nothing here is imported by ``import tinyclipnn``: ``kernels.reference`` is plain numpy,
``kernels.cpu`` holds ``numba.njit`` kernels and ``kernels.cuda`` ``numba.cuda`` kernels; both
are imported lazily by the code that dispatches to them (see
``tinyclipnn.clip._pipeline.ClipBackend`` for the clipping primitive set every backend
implements).
"""
