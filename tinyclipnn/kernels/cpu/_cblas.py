"""The address of numpy's own ``cblas_sgemm`` / ``cblas_dgemm``, for the recurrent kernels to call.

Why: inside a Numba kernel, ``np.dot`` goes through scipy's BLAS wrappers (scipy's OpenBLAS
copy, a Fortran call with argument checks) and reached 37-54 GFLOP/s on the per-step matmul of
an LSTM (batch 32, hidden 128) on a 2.7 GHz AVX2 EPYC, where numpy's OpenBLAS called directly
reached 70 (its peak on 1024^3 is 85). The kernels get the function's address as a plain integer
argument (so their on-disk cache stays valid) and call it through `rnn_kernels._gemm`; they fall
back to ``np.dot`` when no address is found (another BLAS build, a platform without the symbol).

``gemm_handle(dtype)`` -> int64 array ``[address or 0, 1 if 64-bit integers (ILP64) else 0]``.
"""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

# (symbol for float32, symbol for float64, integers are 64-bit): numpy >= 2 bundles
# scipy-openblas64 (suffixed ILP64 symbols); numpy 1.2x bundled openblas64_ (suffix 64_).
_SYMBOLS = [("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_", True),
            ("cblas_sgemm64_", "cblas_dgemm64_", True),
            ("scipy_cblas_sgemm", "scipy_cblas_dgemm", False),
            ("cblas_sgemm", "cblas_dgemm", False)]
_FOUND: dict[str, np.ndarray] = {}  # dtype char -> handle; empty until the first look-up


def _numpy_blas_paths() -> list[str]:
    base = os.path.dirname(np.__file__)
    pats = [os.path.join(os.path.dirname(base), "numpy.libs", "*openblas*"),
            os.path.join(base, ".dylibs", "*openblas*")]
    return sorted(p for pat in pats for p in glob.glob(pat))


def _look_up() -> dict[str, np.ndarray]:
    found = {"f": np.zeros(2, np.int64), "d": np.zeros(2, np.int64)}
    if os.environ.get("TINYCLIPNN_NO_CBLAS"):  # the np.dot path, for tests and comparisons
        return found
    for path in _numpy_blas_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError:  # pragma: no cover - unloadable copy: try the next one
            continue
        for s_name, d_name, ilp64 in _SYMBOLS:
            if hasattr(lib, s_name) and hasattr(lib, d_name):
                for key, name in (("f", s_name), ("d", d_name)):
                    addr = ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
                    found[key] = np.array([addr, int(ilp64)], np.int64)
                return found
    return found  # pragma: no cover - no numpy-bundled OpenBLAS: kernels use np.dot


def gemm_handle(dtype) -> np.ndarray:
    """``[address, ilp64]`` of numpy's BLAS gemm for float32 / float64 (address 0: not found).
    No lock: two threads looking up at once find the same addresses (valid after fork too)."""
    if not _FOUND:
        _FOUND.update(_look_up())
    return _FOUND[np.dtype(dtype).char]


def kernel_name() -> str:
    """Which gemm the kernels call: the library file, or ``"np.dot"`` for the fallback."""
    if not gemm_handle(np.float32)[0]:
        return "np.dot (scipy BLAS)"
    paths = _numpy_blas_paths()
    return os.path.basename(paths[0]) if paths else "numpy BLAS"
