"""numba.cuda clipping kernels (``backend="cuda"``).

Importing this package imports nothing from numba: ``clip`` (the backend module with the
primitive set of ``tinyclipnn.clip._pipeline.ClipBackend``) imports ``numba.cuda`` when it is
first loaded, and ``_runtime.unavailable_reason()`` says why CUDA cannot be used here. With the ``cuda``
extra (``numba-cuda``) installed, ``from numba import cuda`` resolves to NVIDIA's package;
otherwise numba's built-in target is used. Under ``NUMBA_ENABLE_CUDASIM=1`` (set before numba
is first imported) every kernel runs in numba's simulator, which is how CI tests them.

Modules: ``_runtime`` (lazy import, availability), ``_arrays`` (device/host array adaptation),
``_config`` (launch geometry), ``_reduce`` (shared block-reduction device functions),
``_segments`` (work tables: a segmented flat buffer cut into per-block chunks),
``norms`` / ``elementwise`` (the kernels), ``clip`` (the backend primitives and the
no-host-sync clip path), ``scalar`` (``DeviceScalar``, the norm that stays on the device).
"""


def unavailable_reason() -> str | None:
    """None when the CUDA kernels can run here, else why not (package, driver or GPU).

    The public entry point to ``_runtime.unavailable_reason``; importing it imports no numba."""
    from ._runtime import unavailable_reason as reason

    return reason()
