"""The one door from ``clip`` to ``kernels``: every kernel name the clip package uses is
imported here, and the kernel modules of the three backends are loaded here on first use.

Backends: ``numpy`` (``kernels.reference``), ``numba`` (``kernels.cpu.clip``) and ``cuda``
(``kernels.cuda.clip``); the classes that drive them are in ``_pipeline``. Nothing imports
numba until a backend (or device memory) is first used.
"""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType
from typing import Any

import numpy as np

from ..kernels import reference
from ..kernels.clip_decision import EPS, NonFinite, clip_coefficient, held_back
from ..kernels.config import NORM_BLOCK as SHARD_ALIGN
from ..kernels.cuda.scalar import DeviceScalar
from ..kernels.halfbits_numpy import BF16_BITS, from_f64, to_f64
from ..kernels.runtime import IdentityCache

__all__ = ["BACKENDS", "BF16_BITS", "EPS", "SHARD_ALIGN", "DeviceScalar", "IdentityCache",
           "NonFinite", "available_backends", "clip_coefficient", "cuda_kernels",
           "cuda_unavailable_reason", "from_f64", "get_backend", "held_back", "reference",
           "to_f64"]

BACKENDS = ("auto", "numpy", "numba", "cuda")
_MODULES = {
    "numpy": "tinyclipnn.kernels.reference",
    "numba": "tinyclipnn.kernels.cpu.clip",
    "cuda": "tinyclipnn.kernels.cuda.clip",
}
_loaded: dict[str, ModuleType] = {"numpy": reference}
_auto: list[ModuleType] = []
_cuda_reason: list[str | None] = []


def _import(name: str) -> ModuleType:
    mod = _loaded.get(name)
    if mod is None:
        mod = _loaded[name] = importlib.import_module(_MODULES[name])
    return mod


def cuda_kernels() -> ModuleType:
    """``kernels.cuda.clip`` (imports numba.cuda on first call)."""
    return _import("cuda")


def cuda_unavailable_reason() -> str | None:
    """None when ``backend="cuda"`` works here, else why not (package, driver or GPU)."""
    if _cuda_reason and _cuda_reason[0] is None:
        return None
    try:
        from ..kernels.cuda import unavailable_reason

        reason = unavailable_reason()
    except Exception as exc:  # a broken numba install raises more than ImportError
        reason = f"numba could not be imported ({type(exc).__name__}: {exc})"
    _cuda_reason[:] = [reason]
    return reason


def available_backends() -> list[str]:
    """The backends that work in this installation, e.g. ``["numpy", "numba", "cuda"]``
    (never raises)."""
    out = ["numpy"]
    try:
        _import("numba")
    except Exception:
        pass
    else:
        out.append("numba")
    if cuda_unavailable_reason() is None:
        out.append("cuda")
    return out


def get_backend(name: str = "auto") -> ModuleType:
    """The kernel module for backend ``name`` (``"auto"``: Numba, else numpy with a warning)."""
    if name == "auto":
        if not _auto:
            try:
                _auto.append(_import("numba"))
            except Exception as exc:  # numba missing or broken: stay usable
                warnings.warn(
                    "tinyclipnn.clip: the Numba CPU kernels could not be loaded "
                    f"({type(exc).__name__}: {exc}); using the numpy backend, which is slower",
                    RuntimeWarning, stacklevel=3)
                _auto.append(reference)
        return _auto[0]
    if name == "numpy":
        return reference
    if name == "numba":
        try:
            return _import(name)
        except Exception as exc:  # numba missing or broken (e.g. llvmlite missing)
            raise ImportError(
                "backend='numba': the Numba CPU kernels cannot be loaded "
                f"({type(exc).__name__}: {exc}); install numba (pip install numba) or use "
                "backend='numpy' (or 'auto', which falls back to numpy)", name="numba") from exc
    if name == "cuda":
        if "cuda" not in _loaded:
            reason = cuda_unavailable_reason()
            if reason is not None:
                raise RuntimeError(f"backend='cuda': CUDA support is not available here: "
                                   f"{reason}; use backend='auto', 'numba' or 'numpy'")
        try:
            return _import("cuda")
        except ImportError as exc:
            raise RuntimeError("backend='cuda': CUDA support is not available in this "
                               f"installation ({exc}); use backend='auto', 'numba' or "
                               "'numpy'") from exc
    raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")


# --- device memory for a GradBuffer(device="cuda") ------------------------------------------

def device_zeros(n: int, dtype: np.dtype) -> Any:
    """A zeroed 1-D device array (numba) of ``n`` elements."""
    flat = cuda_kernels().cuda.device_array(n, dtype)
    device_fill(flat, 0.0)
    return flat


def device_fill(a: Any, value: float) -> None:
    """Fill a device array in place."""
    cuda_kernels().seg_fill_([a], value)


def copy_to_device(view: Any, g: Any) -> None:
    """Copy a gradient (host ndarray or device array of the same size) into a device view."""
    kernels = cuda_kernels()
    src = kernels.as_device(g) if kernels.is_device_array(g) else np.ascontiguousarray(
        g, view.dtype)
    if src.dtype != view.dtype:
        raise TypeError(f"GradBuffer: gradient dtype {src.dtype} != buffer dtype {view.dtype}")
    view.copy_to_device(src.reshape(view.shape))
