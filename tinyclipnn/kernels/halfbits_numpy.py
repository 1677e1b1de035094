"""float16 / bfloat16 <-> float64 in plain numpy, from and to their 16-bit patterns.

numpy has float16 but no bfloat16; a bfloat16 array travels through the kernels as its
``uint16`` bit pattern (the upper half of a float32). Rounding to either type is
round-to-nearest-even from float64, done as round-to-odd to float32 (exact for the final
rounding, since float32 keeps >= 2 more bits than either 16-bit type) and then RNE on the bits.
The Numba kernels implement the same rules (``cpu.halfbits_numba``); this module is their oracle.
"""

from __future__ import annotations

import numpy as np

BF16_BITS = np.dtype(np.uint16)  # how a bfloat16 array is passed to the kernels


def bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    """float32 values of bfloat16 bit patterns (exact)."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def f64_to_f32_odd(x: np.ndarray) -> np.ndarray:
    """float64 -> float32 rounded to odd, as uint32 bits (sticky: no double rounding later)."""
    x = np.asarray(x, np.float64).reshape(-1)
    with np.errstate(over="ignore"):
        r = x.astype(np.float32)
    u = r.view(np.uint32).copy()
    back = r.astype(np.float64)
    fix = (back != x) & ((u & 1) == 0) & ~np.isnan(x)
    down = fix & (np.abs(back) > np.abs(x))
    u[down] -= 1
    u[fix & ~down] += 1
    return u


def f64_to_bf16(x: np.ndarray) -> np.ndarray:
    """float64 -> bfloat16 bits, round-to-nearest-even (NaN stays NaN)."""
    x = np.asarray(x, np.float64)
    u = f64_to_f32_odd(x.reshape(-1)).astype(np.uint64)
    out = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(x.reshape(-1))
    out[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)
    return out.reshape(x.shape)


def f64_to_f16(x: np.ndarray) -> np.ndarray:
    """float64 -> float16, round-to-nearest-even (numpy converts directly from float64)."""
    with np.errstate(over="ignore"):
        return np.asarray(x, np.float64).astype(np.float16)


def to_f64(a: np.ndarray) -> np.ndarray:
    """float64 values of a kernel-level array (float16/32/64, or bfloat16 bits as uint16)."""
    if a.dtype == BF16_BITS:
        return bf16_to_f32(a).astype(np.float64)
    return a.astype(np.float64, copy=False)


def from_f64(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """float64 values rounded (RNE) to a kernel-level dtype (bfloat16 given as uint16)."""
    if dtype == BF16_BITS:
        return f64_to_bf16(x)
    if dtype == np.float16:
        return f64_to_f16(x)
    with np.errstate(over="ignore"):
        return np.asarray(x, np.float64).astype(dtype)


def cast_scalar(value: float, dtype: np.dtype) -> float:
    """``value`` rounded to ``dtype`` (RNE), as a Python float."""
    v = from_f64(np.array([value]), dtype)
    return float(to_f64(v)[0])
