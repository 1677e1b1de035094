"""Lazy import of ``numba.cuda`` and a plain-words reason when CUDA cannot be used."""

from __future__ import annotations

import os
from types import ModuleType

_cuda: ModuleType | None = None


def simulator_enabled() -> bool:
    """True when numba's CUDA simulator is on (``NUMBA_ENABLE_CUDASIM=1`` at numba import)."""
    try:
        from numba.core import config
    except ImportError:
        return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")
    return bool(config.ENABLE_CUDASIM)


def cuda_module() -> ModuleType:
    """``numba.cuda`` (NVIDIA's ``numba-cuda`` when installed), imported on first call."""
    global _cuda
    if _cuda is None:
        from numba import cuda

        _cuda = cuda
    return _cuda


def unavailable_reason() -> str | None:
    """None when ``backend="cuda"`` can run here, else why not (package, driver or GPU)."""
    try:
        cuda = cuda_module()
    except ImportError as exc:
        return (
            f"numba.cuda cannot be imported ({exc}); install the CUDA extra: pip install 'tinyclipnn[cuda]'"
        )
    if simulator_enabled():
        return None
    try:
        if cuda.is_available():
            return None
        err = cuda.cuda_error()
    except Exception as exc:  # a broken driver raises from odd places
        err = f"{type(exc).__name__}: {exc}"
    if err:
        msg = " ".join(str(err).split())
        if "cannot be found" in msg or "driver library" in msg.lower():
            return f"no CUDA driver found ({msg})"
        return f"the CUDA driver failed to initialise ({msg})"
    return "no CUDA-capable GPU was found (the CUDA driver is present)"


def describe() -> str:
    """One line naming the numba.cuda implementation and the device (or the simulator)."""
    cuda = cuda_module()
    impl = getattr(cuda, "implementation", "unknown")
    if simulator_enabled():
        return f"numba.cuda ({impl}) simulator"
    dev = cuda.get_current_device()
    name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    return f"numba.cuda ({impl}) on {name}"
