"""Backend dispatch for the clipping API.

``tinyclipnn.clip`` does all argument checking and bookkeeping itself and calls a *backend
module* for the work over gradient memory. A backend module provides exactly these primitives
(``kernels/reference.py`` is the numpy one, ``kernels/cpu/clip.py`` the Numba CPU one; a CUDA
backend is a module ``tinyclipnn.kernels.cuda.clip`` with the same functions over objects with
``__cuda_array_interface__``):

``seg_norms(arrays, norm_type) -> np.ndarray``
    p-norm of each array over all its elements; host float64 array of shape ``(len(arrays),)``.
    ``norm_type`` is a float >= 1 or ``inf`` (max |x|). Accumulate in float64; when the plain
    sum overflows (inf) or underflows (< 1e-290) for finite input, recompute as
    ``m * (sum((|x|/m)**p))**(1/p)`` with ``m = max|x|``. NaN anywhere gives NaN, otherwise inf
    anywhere gives inf. Empty arrays have norm 0. Deterministic: fixed chunking, fixed-order
    combine.
``seg_scale_(arrays, coefs) -> None``
    In place ``arrays[i] *= coefs[i]`` (``coefs``: float64, one per array), product formed in
    float64 and rounded to the array's dtype; arrays whose coefficient is exactly 1 are not
    written at all.
``seg_clamp_(arrays, clip_value) -> int``
    In place clamp of every element to ``[-c, c]`` with ``c = dtype(clip_value)``; NaN stays
    NaN. Returns how many elements changed.
``seg_fill_(arrays, value) -> None``
    In place fill.
``row_norms(x2d, norm_type=2.0) -> np.ndarray``
    p-norm of each row of a C-contiguous ``(rows, cols)`` array, same rules as ``seg_norms``;
    host float64 ``(rows,)``.
``row_scale_(x2d, coefs) -> None``
    In place ``x2d[i, :] *= coefs[i]``, as ``seg_scale_`` (rows with coefficient 1 untouched).
``col_sum(x2d) -> array``
    ``x2d.sum(axis=0)`` accumulated in float64, returned as a new ``(cols,)`` array of
    ``x2d``'s dtype (on the backend's device).

In every primitive ``arrays`` is a sequence (possibly empty) of arrays that are each
contiguous in memory (C or Fortran order; elementwise work ignores the layout) and share one
dtype, float32 or float64. The caller guarantees this and writability for in-place primitives.

``get_backend(name)`` maps ``"auto" | "numpy" | "numba" | "cuda"`` to such a module, importing
it lazily on first use (so ``import tinyclipnn`` never imports numba).
"""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType

BACKENDS = ("auto", "numpy", "numba", "cuda")
_MODULES = {
    "numpy": "tinyclipnn.kernels.reference",
    "numba": "tinyclipnn.kernels.cpu.clip",
    "cuda": "tinyclipnn.kernels.cuda.clip",
}
_loaded: dict[str, ModuleType] = {}
_auto: ModuleType | None = None


def _import(name: str) -> ModuleType:
    mod = _loaded.get(name)
    if mod is None:
        mod = _loaded[name] = importlib.import_module(_MODULES[name])
    return mod


def get_backend(name: str = "auto") -> ModuleType:
    """The primitive module for backend ``name`` (see the module docstring)."""
    global _auto
    if name == "auto":
        if _auto is None:
            try:
                _auto = _import("numba")
            except Exception as exc:  # numba missing or broken: stay usable
                warnings.warn(
                    f"tinyclipnn.clip: numba is unavailable ({type(exc).__name__}: {exc}); "
                    "falling back to the numpy backend, which is slower",
                    RuntimeWarning,
                    stacklevel=3,
                )
                _auto = _import("numpy")
        return _auto
    if name in ("numpy", "numba"):
        return _import(name)
    if name == "cuda":
        if "cuda" not in _loaded:
            from ._device import cuda_unavailable_reason

            reason = cuda_unavailable_reason()
            if reason is not None:
                raise RuntimeError(
                    f"backend='cuda': CUDA support is not available here: {reason}; "
                    "use backend='auto', 'numba' or 'numpy'"
                )
        try:
            return _import("cuda")
        except ImportError as exc:
            raise RuntimeError(
                "backend='cuda': CUDA support is not available in this installation "
                f"({exc}); use backend='auto', 'numba' or 'numpy'"
            ) from exc
    raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
