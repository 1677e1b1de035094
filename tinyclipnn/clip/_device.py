"""The clip API on device (CUDA) memory: which backends work here, device gradients, storage
for a device ``GradBuffer``, and the no-host-sync global-norm clip.

Nothing here imports numba.cuda until a device array or ``backend="cuda"`` is actually used.
Device gradients are numba device arrays or any object with ``__cuda_array_interface__``
(CuPy arrays, PyTorch CUDA tensors); they are clipped in place with the ``cuda`` backend.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _checks

F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)
_cuda_reason: list[str | None] = []  # cached once CUDA was found usable


def cuda_unavailable_reason() -> str | None:
    """None when ``backend="cuda"`` works here, else why not (package, driver or GPU)."""
    if _cuda_reason and _cuda_reason[0] is None:
        return None
    from ..kernels.cuda._runtime import unavailable_reason

    reason = unavailable_reason()
    _cuda_reason[:] = [reason]
    return reason


def available_backends() -> list[str]:
    """The backends that work in this installation, e.g. ``["numpy", "numba", "cuda"]``."""
    out = ["numpy"]
    try:
        import tinyclipnn.kernels.cpu.clip  # noqa: F401
    except Exception:
        pass
    else:
        out.append("numba")
    if cuda_unavailable_reason() is None:
        out.append("cuda")
    return out


def is_device_array(obj: Any) -> bool:
    """True for objects in device memory (``__cuda_array_interface__``, or a device array of
    numba's simulator)."""
    return hasattr(obj, "__cuda_array_interface__") or type(obj).__name__ == "FakeCUDAArray"


def _dtype(a: Any) -> np.dtype:
    cai = getattr(a, "__cuda_array_interface__", None)
    return np.dtype(cai["typestr"]) if cai is not None else np.dtype(a.dtype)


def check_device_array(a: Any, writable: bool, name: str) -> np.dtype:
    """Validate one device gradient (float32/float64, contiguous, writable); its dtype."""
    d = _dtype(a)
    shape = tuple(a.shape)
    if d not in (F32, F64):
        raise TypeError(f"{name}: gradients must be float32 or float64, got dtype {d} "
                        f"(device array of shape {shape})")
    cai = getattr(a, "__cuda_array_interface__", None)
    if cai is not None:
        if writable and cai["data"][1]:
            raise ValueError(f"{name}: device gradient of shape {shape} is read-only")
        strides = cai.get("strides")
        if strides is not None and tuple(strides) not in _contiguous_strides(shape, d.itemsize):
            raise ValueError(f"{name}: device gradient of shape {shape} must be contiguous "
                             f"(C or Fortran order), got strides {tuple(strides)}")
    elif not (a.is_c_contiguous() or a.is_f_contiguous()):
        raise ValueError(f"{name}: device gradient of shape {shape} must be contiguous")
    return d


def _contiguous_strides(shape: tuple[int, ...], itemsize: int) -> list[tuple[int, ...]]:
    c, f, acc = [], [], itemsize
    for n in reversed(shape):
        c.insert(0, acc)
        acc *= max(n, 1)
    acc = itemsize
    for n in shape:
        f.append(acc)
        acc *= max(n, 1)
    return [tuple(c), tuple(f)]


def group_by_dtype(arrays: list[Any], writable: bool, name: str):
    """(groups, positions) of device arrays split by dtype, in input order."""
    by: dict[np.dtype, tuple[list[Any], list[int]]] = {}
    for i, a in enumerate(arrays):
        if not is_device_array(a):
            raise TypeError(f"{name}: gradients must be all on the device or all numpy arrays; "
                            f"got {type(a).__name__} among device arrays")
        arrs, pos = by.setdefault(check_device_array(a, writable, name), ([], []))
        arrs.append(a)
        pos.append(i)
    return [a for a, _ in by.values()], [p for _, p in by.values()]


def backend_for(backend: str, device: bool) -> Any:
    """The backend module for a call: device gradients need (and "auto" picks) ``cuda``."""
    from ._backend import BACKENDS, get_backend

    if not device:
        return get_backend(backend)
    if backend not in ("auto", "cuda"):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        raise ValueError(f"backend={backend!r} works on host memory; device gradients need "
                         "backend='cuda' (or 'auto')")
    return get_backend("cuda")


# --- storage of a device GradBuffer -------------------------------------------------------

def zeros(n: int, dtype: np.dtype) -> Any:
    """A zeroed 1-D device array (numba) of ``n`` elements."""
    from ._backend import get_backend

    flat = get_backend("cuda").cuda.device_array(n, dtype)
    fill(flat, 0.0)
    return flat


def fill(a: Any, value: float) -> None:
    """Fill a device array in place."""
    from ._backend import get_backend

    get_backend("cuda").seg_fill_([a], value)


def copy_into(view: Any, g: Any) -> None:
    """Copy a gradient (host ndarray or device array of the same size) into a device view."""
    from ..kernels.cuda._arrays import as_device

    src = as_device(g) if is_device_array(g) else np.ascontiguousarray(g, view.dtype)
    if src.dtype != view.dtype:
        raise TypeError(f"GradBuffer: gradient dtype {src.dtype} != buffer dtype {view.dtype}")
    view.copy_to_device(src.reshape(view.shape))


# --- the no-host-sync global-norm path ----------------------------------------------------

def total_norm(groups: list[list[Any]], p: float, be: Any) -> Any:
    """Global p-norm over device gradients as a ``DeviceScalar`` (no host sync)."""
    if not groups:
        return be.combine_norms_device([be.cuda.device_array(0, np.float64)], p)
    return be.combine_norms_device([be.seg_norms_device(a, p) for a in groups], p)


def clip_norm(groups: list[list[Any]], be: Any, max_norm: float, p: float, policy: str,
              eps: float) -> tuple[Any, Any]:
    """Global-norm clip on the device: ``(total, coef)`` as ``DeviceScalar``. Only the
    ``"error"`` policy reads the norm on the host (it must raise before anything is written)."""
    total = total_norm(groups, p, be)
    if policy == "error":
        t = float(total)
        if not math.isfinite(t):
            raise _checks.NonFiniteNormError(
                f"the total norm of order {p} of the gradients is non-finite ({t}), so it "
                "cannot be clipped; gradients were left untouched (nonfinite='error')")
        policy = "propagate"
    arrays = [a for grp in groups for a in grp]
    return total, be.clip_with_norm_(arrays, max_norm, total, eps, policy)


def record(monitor: Any, total: Any, coef: Any, policy: str, max_norm: float, pt: Any) -> None:
    """Monitor a device clip (reads the two scalars: one host sync)."""
    t, c = float(total), float(coef)
    skipped = policy == "skip" and not math.isfinite(t)
    monitor.record(t, c, c != 1.0, skipped, max_norm, pt)
