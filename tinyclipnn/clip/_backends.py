"""Backends: the typed ``ClipBackend`` protocol that the numpy, numba and cuda kernels
implement, and the choice of one for a call.

A backend works on the arrays of one gather group (contiguous, one dtype; bfloat16 as uint16
bits on the host). A backend that ``makes_plans`` (Numba) is given ``plan(arrays)`` instead of
the list: its segment table (addresses and work items, no references to the arrays), made once
for the norm and the scaling pass and kept with a reused gather. A host backend also
``fuses_clip``: ``clip_norm_`` is the whole global-norm clip of one group in one call (the
Numba one runs both passes in one threaded call, with no Python between them).
Kernel modules (``kernels/reference.py``: numpy; ``kernels/cpu/clip.py``: Numba;
``kernels/cuda/clip.py``: numba.cuda) provide the primitives; the classes here add
the parts that differ between host and device: where partial norms live and how they are
combined (``group=``: an mpi4py-like communicator, used only through ``allgather``).
Nothing imports numba until a backend is first used.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from ..kernels import reference

BACKENDS = ("auto", "numpy", "numba", "cuda")
_MODULES = {
    "numpy": "tinyclipnn.kernels.reference",
    "numba": "tinyclipnn.kernels.cpu.clip",
    "cuda": "tinyclipnn.kernels.cuda.clip",
}
_loaded: dict[str, ModuleType] = {}
_auto: list[ModuleType] = []
_cuda_reason: list[str | None] = []


class ClipBackend(Protocol):
    """What the clip pipeline needs from a backend (arrays: one gather group)."""

    name: str
    device: bool
    makes_plans: bool  # whether plan() exists; the list is passed as is otherwise
    fuses_clip: bool  # whether clip_norm_() exists (host backends)

    def plan(self, arrays: Sequence[Any]) -> Any: ...
    def partials(self, arrays: Sequence[Any], p: float) -> Any: ...
    def segment_norms(self, partials: Any, p: float) -> np.ndarray: ...
    def total(self, partials: list[Any], p: float, group: Any = None) -> Any: ...
    def clip_to_(self, arrays: Sequence[Any], max_norm: float, total: Any, eps: float,
                 policy: str) -> Any: ...
    def clip_norm_(self, arrays: Sequence[Any], p: float, max_norm: float, eps: float,
                   policy: str, unscale: float = 1.0) -> tuple[float, float]: ...
    def scale_(self, arrays: Sequence[Any], coefs: np.ndarray) -> None: ...
    def clamp_(self, arrays: Sequence[Any], clip_value: float) -> int: ...
    def fill_(self, arrays: Sequence[Any], value: float) -> None: ...
    def row_norms(self, x2d: Any, p: float = 2.0) -> np.ndarray: ...
    def row_scale_(self, x2d: Any, coefs: np.ndarray) -> None: ...
    def col_sum(self, x2d: Any) -> Any: ...


def allgather_partials(sums: np.ndarray, scales: np.ndarray, group: Any):
    """Every rank's (sums, scales), concatenated in rank order (``group.allgather`` only)."""
    parts = group.allgather((np.asarray(sums, np.float64), np.asarray(scales, np.float64)))
    return (np.concatenate([np.asarray(s, np.float64) for s, _ in parts]),
            np.concatenate([np.asarray(c, np.float64) for _, c in parts]))


class HostBackend:
    """numpy or Numba kernels over host memory; partials and totals are host float64."""

    device = False
    fuses_clip = True

    def __init__(self, module: ModuleType, name: str) -> None:
        self.kernels, self.name = module, name
        k = module
        self.clip_norm_ = k.seg_clip_norm_
        self.scale_, self.clamp_, self.fill_ = k.seg_scale_, k.seg_clamp_, k.seg_fill_
        self.row_norms, self.row_scale_, self.col_sum = k.row_norms, k.row_scale_, k.col_sum
        self.partials = k.seg_partials
        self.plan = getattr(k, "plan", None)  # the Numba kernels' segment tables
        self.makes_plans = self.plan is not None

    def segment_norms(self, partials: Any, p: float) -> np.ndarray:
        return reference.segment_norms(partials, p)

    def total(self, partials: list[Any], p: float, group: Any = None) -> float:
        if len(partials) == 1:
            sums, scales, _ = partials[0]
        else:
            sums = np.concatenate([s for s, _, _ in partials] or [np.zeros(0)])
            scales = np.concatenate([c for _, c, _ in partials] or [np.zeros(0)])
        if group is not None:
            sums, scales = allgather_partials(sums, scales, group)
        return reference.combine_partials(sums, scales, p)

    def clip_to_(self, arrays: Sequence[Any], max_norm: float, total: Any, eps: float,
                 policy: str) -> float:
        return reference.clip_with_norm_(arrays, max_norm, float(total), eps, policy,
                                         scale_=self.scale_, fill_=self.fill_)


class CudaBackend:
    """numba.cuda kernels; partials are device vectors of norms and the total stays on the
    device (a ``DeviceScalar``) unless ``group=`` needs it on the host."""

    device = True
    name = "cuda"
    makes_plans = False
    fuses_clip = False

    def __init__(self, module: ModuleType) -> None:
        k = self.kernels = module
        self.scale_, self.clamp_, self.fill_ = k.seg_scale_, k.seg_clamp_, k.seg_fill_
        self.row_norms, self.row_scale_, self.col_sum = k.row_norms, k.row_scale_, k.col_sum

    def partials(self, arrays: Sequence[Any], p: float) -> Any:
        return self.kernels.seg_norms_device(arrays, p)

    def segment_norms(self, partials: Any, p: float) -> np.ndarray:
        return partials.copy_to_host()

    def total(self, partials: list[Any], p: float, group: Any = None) -> Any:
        if group is None:
            vecs = partials or [self.kernels.cuda.device_array(0, np.float64)]
            return self.kernels.combine_norms_device(vecs, p)
        norms = np.concatenate([v.copy_to_host() for v in partials] or [np.zeros(0)])
        # a norm n as a scaled partial (sum 1, scale n); zero norms as plain zeros
        sums, scales = (norms != 0).astype(np.float64), norms
        return reference.combine_partials(*allgather_partials(sums, scales, group), p)

    def clip_to_(self, arrays: Sequence[Any], max_norm: float, total: Any, eps: float,
                 policy: str) -> Any:
        return self.kernels.clip_with_norm_(list(arrays), max_norm, total, eps, policy)


def _import(name: str) -> ModuleType:
    mod = _loaded.get(name)
    if mod is None:
        mod = _loaded[name] = importlib.import_module(_MODULES[name])
    return mod


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
                _auto.append(_import("numpy"))
        return _auto[0]
    if name == "numpy":
        return _import(name)
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


_objects: dict[int, ClipBackend] = {}


def backend_for(name: str, device: bool) -> ClipBackend:
    """The backend object for a call: device gradients need (and "auto" picks) ``cuda``."""
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    if device and name not in ("auto", "cuda"):
        raise ValueError(f"backend={name!r} works on host memory; device gradients need "
                         "backend='cuda' (or 'auto')")
    mod = get_backend("cuda" if device else name)
    be = _objects.get(id(mod))
    if be is None:
        if mod.__name__.endswith("cuda.clip"):
            be = CudaBackend(mod)
        else:
            be = HostBackend(mod, "numpy" if mod is reference else "numba")
        be = _objects.setdefault(id(mod), be)
    return be
