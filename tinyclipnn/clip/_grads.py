"""Gather the gradient arrays a clip call works on, and check them before anything is written.

``parameters`` may be one array or object with ``.grad``, an iterable of them (entries whose
``.grad`` is None are skipped), or a ``GradBuffer``. Arrays are grouped by dtype (float32 and
float64 may be mixed); arrays that are not contiguous (or not native byte order) are processed
through a contiguous copy that ``Gathered.write_back`` copies back.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import is_
from typing import Any

import numpy as np

from . import _device
from .buffer import GradBuffer

# (weak refs to the arrays, their group layout (positions), writable): see _cached
_last: tuple[list[weakref.ref], list[list[int]], bool] | None = None
F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)
_MISSING = object()


@dataclass
class Gathered:
    """Backend-ready gradient arrays for one call."""

    groups: list[list[np.ndarray]]  # one list per dtype, each array contiguous
    positions: list[list[int]]  # input position of each array, per group
    count: int  # tensors seen (with a gradient)
    copies: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    device: bool = False  # arrays are in device memory (see _device)

    def write_back(self) -> None:
        """Copy results computed on contiguous copies back into the original arrays."""
        for original, copy in self.copies:
            original[...] = copy

    def scatter(self, per_group: list[np.ndarray]) -> np.ndarray:
        """Per-array values given per group, in input order: float64 (count,)."""
        out = np.empty(self.count, np.float64)
        for pos, vals in zip(self.positions, per_group, strict=True):
            out[pos] = vals
        return out


def entries(parameters: Any, name: str = "parameters") -> list[Any]:
    """The list of tensors/arrays in ``parameters`` (one object or an iterable)."""
    if (
        isinstance(parameters, np.ndarray)
        or hasattr(parameters, "grad")
        or _device.is_device_array(parameters)
    ):
        return [parameters]
    if isinstance(parameters, (str, bytes, dict)) or not isinstance(parameters, Iterable):
        raise TypeError(
            f"{name} must be an array, an object with a .grad array, an iterable of those, "
            f"or a GradBuffer; got {type(parameters).__name__}"
        )
    return list(parameters)


def grad_of(entry: Any, name: str = "parameters") -> np.ndarray | None:
    """The gradient array of one entry: the array itself or ``entry.grad`` (maybe None)."""
    if isinstance(entry, np.ndarray) or _device.is_device_array(entry):
        return entry
    g = getattr(entry, "grad", _MISSING)
    if g is _MISSING:
        raise TypeError(
            f"{name} entries must be numpy arrays or objects with a .grad attribute; "
            f"got {type(entry).__name__}"
        )
    if g is not None and not (isinstance(g, np.ndarray) or _device.is_device_array(g)):
        raise TypeError(f"{name}: .grad must be a numpy array or None, got {type(g).__name__}")
    return g


def check_array(g: np.ndarray, writable: bool, name: str = "parameters") -> bool:
    """Validate one gradient; True when it can be handed to a kernel as is."""
    d = g.dtype
    if d is F32 or d is F64:
        direct = True
    elif d.kind == "f" and d.itemsize in (4, 8):
        direct = False  # non-native byte order: work on a native copy
    else:
        raise TypeError(
            f"{name}: gradients must be float32 or float64, got dtype {d} (array of shape {g.shape})"
        )
    flags = g.flags
    if writable and not flags.writeable:
        raise ValueError(f"{name}: gradient of shape {g.shape} is read-only and cannot be clipped in place")
    return direct and (flags.c_contiguous or flags.f_contiguous)


def gather(
    parameters: Any, *, writable: bool, per_tensor: bool = False, name: str = "parameters"
) -> Gathered:
    """Collect and validate the gradients of ``parameters`` (nothing is modified here).

    With a ``GradBuffer`` the whole buffer is one array (``.flat``) unless ``per_tensor`` asks
    for one array per parameter (its views into the buffer).
    """
    if isinstance(parameters, GradBuffer):
        parameters.sync()
        arrays = parameters.views if per_tensor else [parameters.flat]
        if parameters.device is not None:
            groups = [arrays] if arrays else []
            pos = [list(range(len(arrays)))] if arrays else []
            return Gathered(groups, pos, len(arrays), device=True)
        if writable:
            check_array(parameters.flat, writable, name)
        pos = list(range(len(arrays))) if per_tensor else [0]
        return Gathered([arrays] if arrays else [], [pos] if arrays else [], len(arrays))
    ents = entries(parameters, name)
    try:
        grads = [e if isinstance(e, np.ndarray) else e.grad for e in ents]
    except AttributeError:
        grads = [grad_of(e, name) for e in ents]  # raises the descriptive error
    grads = [g for g in grads if g is not None]
    if grads and not isinstance(grads[0], np.ndarray) and _device.is_device_array(grads[0]):
        groups, positions = _device.group_by_dtype(grads, writable, name)
        return Gathered(groups, positions, len(grads), device=True)
    hit = _cached(grads, writable)
    if hit is not None:
        return hit
    by_dtype: dict[np.dtype, tuple[list[np.ndarray], list[int]]] = {}
    copies = []
    n = 0
    for g in grads:
        if not isinstance(g, np.ndarray):
            raise TypeError(f"{name}: .grad must be a numpy array or None, got {type(g).__name__}")
        if not check_array(g, writable, name):
            c = np.ascontiguousarray(g, dtype=g.dtype.newbyteorder("="))
            copies.append((g, c))
            g = c
        arrs, pos = by_dtype.setdefault(g.dtype, ([], []))
        arrs.append(g)
        pos.append(n)
        n += 1
    groups = list(by_dtype.values())
    out = Gathered([a for a, _ in groups], [p for _, p in groups], n, copies if writable else [])
    if not copies:
        global _last
        _last = ([weakref.ref(g) for g in grads], out.positions, writable)
    return out


def _cached(grads: list[np.ndarray], writable: bool) -> Gathered | None:
    """The previous call's result when it saw exactly these array objects (optimizers call
    the clipper with the same gradients every step; checking 1,000 arrays costs ~0.6 ms).
    dtype, shape and memory of an ndarray object never change, so the earlier checks hold;
    only a writeable flag switched off since then goes unnoticed."""
    if _last is None:
        return None
    refs, positions, was_writable = _last
    if len(refs) != len(grads) or (writable and not was_writable):
        return None
    if all(map(is_, (r() for r in refs), grads)):
        return Gathered([[grads[i] for i in pos] for pos in positions], positions, len(grads))
    return None
