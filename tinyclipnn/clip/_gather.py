"""The one gather step of every clip function: find the gradients, check them all, and lay
them out for the kernels before anything is written.

``parameters``: one array / tensor / object with ``.grad``, an iterable of them (entries whose
gradient is None are skipped), or a ``GradBuffer``. Layouts: ``FLAT`` (a GradBuffer is its one
flat array), ``PER_TENSOR`` (one array per tensor), ``ROWS`` (each gradient as a C-contiguous
2-D ``(units, rest)`` array: rows of a weight, the whole tensor for <= 1-D) and ``BATCH``
(``(batch, rest)``: per-example gradients). Arrays are grouped by device and kernel dtype;
the rare input that cannot be worked on in place as is (non-contiguous, byte-swapped) goes
through a contiguous copy that ``write_back`` copies back. The same gradient object given
twice is counted and scaled once.
"""

from __future__ import annotations

import math
import types
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import numpy as np

from . import _device_arrays as D
from . import _recent
from ._group import Group
from ._inputs import (
    ACCEPTED,
    DTYPES,
    F32,
    F64,
    describe,
    host_array,
    is_bf16,
    is_device_array,
    is_torch_tensor,
    kernel_dtype,
)
from .buffer import GradBuffer

FLAT, PER_TENSOR, ROWS, BATCH = "flat", "per_tensor", "rows", "batch"
_MISSING = object()


@dataclass
class Gathered:
    """Backend-ready gradients of one call."""

    groups: list[Group]
    count: int  # distinct gradients seen
    device: bool = False
    kept: list[int] = field(default_factory=list)  # entry index of each gradient
    copies: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    aliases: list[tuple[int, int]] = field(default_factory=list)  # (position, same as position)

    def write_back(self) -> None:
        """Copy results computed on contiguous copies back into the original arrays."""
        for original, copy in self.copies:
            if copy.dtype.kind == "u":  # bfloat16 bits: back to the original's bfloat16 dtype
                copy = copy.view(original.dtype)
            original[...] = copy.reshape(original.shape)

    def scatter(self, per_group: list[np.ndarray]) -> np.ndarray:
        """Per-gradient values given per group, in input order: float64 (n_gradients,)."""
        out = np.empty(self.count + len(self.aliases), np.float64)
        for grp, vals in zip(self.groups, per_group, strict=True):
            out[grp.positions] = vals
        for pos, same in self.aliases:
            out[pos] = out[same]
        return out


def entries(parameters: Any, name: str = "parameters") -> list[Any]:
    """The list of tensors/arrays in ``parameters`` (one object or an iterable); an empty
    generator warns as PyTorch does (it was probably consumed before)."""
    if (isinstance(parameters, np.ndarray) or hasattr(parameters, "grad")
            or is_device_array(parameters) or hasattr(parameters, "__array_interface__")
            or hasattr(parameters, "__dlpack__")):
        return [parameters]
    if isinstance(parameters, (str, bytes, dict)) or not isinstance(parameters, Iterable):
        raise TypeError(f"{name} must be an array, an object with a .grad array, an iterable of "
                        f"those, or a GradBuffer; got {type(parameters).__name__}")
    out = list(parameters)
    if not out and isinstance(parameters, (types.GeneratorType, map, filter)):
        warnings.warn(f"`{name}` is an empty generator, no gradient clipping will occur.",
                      UserWarning, stacklevel=4)
    return out


def grad_of(entry: Any, name: str = "parameters") -> Any:
    """The gradient of one entry: the array itself, or ``entry.grad`` (maybe None)."""
    if type(entry) is np.ndarray or is_device_array(entry):
        return entry
    if is_torch_tensor(entry):
        return entry.grad if entry.requires_grad else entry
    g = getattr(entry, "grad", _MISSING)
    if g is not _MISSING:
        return g
    if (isinstance(entry, np.ndarray) or hasattr(entry, "__array_interface__")
            or hasattr(entry, "__dlpack__")):
        return entry
    raise TypeError(f"{name} entries must be arrays or objects with a .grad attribute; got "
                    f"{type(entry).__name__} (accepted: {ACCEPTED})")


def as_rows_shape(shape: tuple[int, ...], layout: str) -> tuple[int, int]:
    """(units, rest) of a gradient of ``shape`` in a ROWS or BATCH layout."""
    if layout == BATCH or len(shape) > 1:
        return shape[0], math.prod(shape[1:])
    return 1, math.prod(shape)


def _host(g: Any, writable: bool, layout: str, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(kernel-ready array, original array when a copy was needed)."""
    a, bits = (g, False) if type(g) is np.ndarray else host_array(g, name)
    d = a.dtype
    kd = d if (d is F32 or d is F64 or bits) else kernel_dtype(d)
    if kd is None:
        if d.kind == "f" and d.itemsize in (2, 4, 8):  # non-native byte order
            kd = d.newbyteorder("=")
        else:
            raise TypeError(f"{name}: gradients must be {DTYPES}, got {describe(g)}")
    flags = a.flags
    if writable and not flags.writeable:
        raise ValueError(f"{name}: gradient {describe(g)} is read-only and cannot be clipped "
                         "in place")
    if layout == BATCH and a.ndim < 1:
        raise TypeError(f"{name}: per-example gradients need a leading batch axis, got a "
                        f"0-d {describe(g)}")
    c_ok = flags.c_contiguous
    # in place when only the kernel's view differs (a bfloat16 array is read as its bits)
    in_place = kd == d or is_bf16(d)
    direct = in_place and (c_ok or (flags.f_contiguous and layout in (FLAT, PER_TENSOR)))
    work = a if direct else np.ascontiguousarray(a, dtype=d.newbyteorder("=") if d.kind == "f" else d)
    if kd != work.dtype:
        work = work.view(kd)
    if layout in (ROWS, BATCH):
        work = work.reshape(as_rows_shape(a.shape, layout))
    return work, (None if direct else a)


_TORCH_TYPES: dict[type, bool] = {}
_grad = attrgetter("grad")


def _torch_type(tp: type, example: Any) -> bool:
    """Whether entries of type ``tp`` (``example`` is one) are PyTorch tensors (cached)."""
    torch_like = _TORCH_TYPES.get(tp)
    if torch_like is None:
        torch_like = _TORCH_TYPES[tp] = is_torch_tensor(example)
    return torch_like


def _grads(ents: list[Any], name: str) -> list[Any]:
    """``grad_of`` for every entry, with the common cases (arrays, objects with ``.grad``) on
    a fast path (an optimizer hands over ~1,000 parameters per step)."""
    kinds = set(map(type, ents))
    if len(kinds) == 1:  # one kind of entry: one C-level pass
        (tp,) = kinds
        if tp is np.ndarray:
            return list(ents)
        if not _torch_type(tp, ents[0]):
            try:
                return list(map(_grad, ents))
            except AttributeError:
                pass  # no .grad (e.g. an array-like): entry by entry below
    out = []
    for e in ents:
        tp = type(e)
        if tp is np.ndarray:
            out.append(e)
            continue
        if _torch_type(tp, e):
            out.append(e.grad if e.requires_grad else e)
            continue
        g = getattr(e, "grad", _MISSING)
        out.append(grad_of(e, name) if g is _MISSING else g)
    return out


def _distinct(grads: list[Any]) -> tuple[list[Any], list[int], list[tuple[int, int]]]:
    """(distinct gradients, their positions, (position, same as position) for repeats)."""
    ids = list(map(id, grads))
    if len(set(ids)) == len(ids):
        return grads, list(range(len(grads))), []
    first: dict[int, int] = {}
    keep, pos, aliases = [], [], []
    for i, (g, k) in enumerate(zip(grads, ids, strict=True)):
        if k in first:
            aliases.append((i, first[k]))
        else:
            first[k] = i
            keep.append(g)
            pos.append(i)
    return keep, pos, aliases


def gather(parameters: Any, *, writable: bool, layout: str = FLAT,
           name: str = "parameters") -> Gathered:
    """Collect and validate the gradients of ``parameters`` (nothing is modified here)."""
    if isinstance(parameters, GradBuffer):
        parameters.sync()
        parameters = [parameters.flat] if layout == FLAT else parameters.views
    grads = _grads(entries(parameters, name), name)
    flat_ok = layout in (FLAT, PER_TENSOR)
    if flat_ok and grads:
        seen = _recent.find(grads, writable)
        if seen is not None:
            return Gathered([seen], len(grads), kept=list(range(len(grads))))
    kept = [i for i, g in enumerate(grads) if g is not None]
    complete = len(kept) == len(grads)
    if not complete:
        grads = [grads[i] for i in kept]
    grads, positions, aliases = _distinct(grads)
    out = Gathered([], len(grads), kept=kept, aliases=aliases)
    by: dict[tuple[bool, np.dtype], Group] = {}
    last, grp = None, Group(F32)
    for pos, g in zip(positions, grads, strict=True):
        if type(g) is np.ndarray and flat_ok:  # fast path: a plain contiguous float array
            d = g.dtype
            if d is F32 or d is F64:
                f = g.flags
                if f.c_contiguous or f.f_contiguous:
                    if writable and not f.writeable:
                        raise ValueError(f"{name}: gradient {describe(g)} is read-only and "
                                         "cannot be clipped in place")
                    if d is not last:  # dtype hashing is slow: only on a change of dtype
                        last, grp = d, by.setdefault((False, d), Group(d))
                    grp.arrays.append(g)
                    grp.positions.append(pos)
                    continue
        if is_device_array(g):
            dev = True
            work, dtype = D.prepare(g, writable, layout, name), D.dtype_of(g)
        else:
            dev = False
            work, original = _host(g, writable, layout, name)
            dtype = work.dtype
            if original is not None and writable:
                out.copies.append((original, work))
        last = None
        other = by.setdefault((dev, dtype), Group(dtype))
        other.arrays.append(work)
        other.positions.append(pos)
    devices = {dev for dev, _ in by}
    if len(devices) > 1:
        raise TypeError(f"{name}: gradients must be all on the device or all in host memory")
    out.groups = list(by.values())
    out.device = devices == {True}
    if flat_ok and complete and len(out.groups) == 1 and not (out.device or out.copies
                                                               or aliases):
        _recent.keep(grads, out.groups[0])
    return out
