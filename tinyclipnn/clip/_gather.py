"""The one gather step of every clip function: turn whatever was passed into groups of
arrays the kernels can work on, checking everything before anything is written.

``parameters``: one array / tensor / object with ``.grad``, an iterable of them (entries whose
gradient is None are skipped), or a ``GradBuffer``. Accepted gradients: numpy arrays
(float16/32/64, ``ml_dtypes.bfloat16``), PyTorch CPU tensors (recognised by their type;
``torch`` is never imported here), ``__dlpack__`` / ``__array_interface__`` exporters, and device
arrays (``__cuda_array_interface__``: numba, CuPy, PyTorch CUDA; or numba's simulator arrays).
bfloat16 becomes its ``uint16`` bit pattern (``BF16_BITS``), the form the kernels take.

Arrays are grouped by device and kernel dtype, in the ``Layout`` the method needs. The rare
input that cannot be worked on in place as is (non-contiguous, byte-swapped) goes through a
contiguous copy that ``Gathered.write_back`` copies back. The same gradient object given twice
is counted and scaled once.

One cache: an optimizer clips the same list of arrays every step, and checking ~1,000 arrays
one by one costs about 0.5 ms of Python per call. A gather whose one group holds the plain
contiguous numpy arrays themselves (one dtype; no copies, repeats or None) is kept, keyed by
the arrays' identity (weak references: nothing kept alive), with the backends' plans of it
(the Numba segment table). A hit is re-validated in two C-level passes (same objects, each
array's dtype and flags as they were); a changed array is gathered and checked from scratch.
"""

from __future__ import annotations

import math
import types
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from operator import attrgetter, is_
from typing import Any

import numpy as np

from ._backends import BF16_BITS, IdentityCache, cuda_kernels
from .buffer import GradBuffer

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
ACCEPTED = ("numpy arrays, PyTorch CPU/CUDA tensors, objects with __dlpack__, "
            "__array_interface__ or __cuda_array_interface__")
DTYPES = "float16, bfloat16, float32 or float64"


class Layout(Enum):
    """How a method sees each gradient: ``FLAT`` (a GradBuffer as its one flat array),
    ``PER_TENSOR`` (one array per tensor), ``ROWS`` (a C-contiguous 2-D ``(units, rest)``
    array: rows of a weight, the whole tensor for <= 1-D), ``BATCH`` (``(batch, rest)``:
    per-example gradients)."""

    FLAT = "flat"
    PER_TENSOR = "per_tensor"
    ROWS = "rows"
    BATCH = "batch"


@dataclass
class Group:
    """Arrays of one device kind and one kernel dtype, with their input positions and the
    backends' plans of them (backend name -> plan, made by ``_pipeline``)."""

    dtype: np.dtype
    arrays: list[Any] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    plans: dict[str, Any] = field(default_factory=dict)


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


# --- what a gradient is ---------------------------------------------------------------------

def is_device_array(obj: Any) -> bool:
    """True for objects in device memory (``__cuda_array_interface__``, or a device array of
    numba's CUDA simulator)."""
    return hasattr(obj, "__cuda_array_interface__") or type(obj).__name__ == "FakeCUDAArray"


def is_torch_tensor(obj: Any) -> bool:
    return type(obj).__module__.startswith("torch") and hasattr(obj, "requires_grad")


def is_bf16(dtype: np.dtype) -> bool:
    return dtype.kind == "V" and dtype.name == "bfloat16"  # ml_dtypes.bfloat16


def describe(g: Any) -> str:
    shape = tuple(getattr(g, "shape", ()))
    return f"{type(g).__name__} of dtype {getattr(g, 'dtype', '?')} and shape {shape}"


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
                      UserWarning, stacklevel=5)
    return out


_MISSING = object()
_grad = attrgetter("grad")


def grad_of(entry: Any, name: str) -> Any:
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


def _grads(ents: list[Any], name: str) -> list[Any]:
    """``grad_of`` for every entry, with one C-level pass when all entries are of one kind
    (an optimizer hands over ~1,000 parameters per step)."""
    kinds = set(map(type, ents))
    if len(kinds) == 1:
        (tp,) = kinds
        if tp is np.ndarray:
            return list(ents)
        if not is_torch_tensor(ents[0]):
            try:
                return list(map(_grad, ents))
            except AttributeError:
                pass  # no .grad (e.g. an array-like): entry by entry below
    return [grad_of(e, name) for e in ents]


# --- host arrays ----------------------------------------------------------------------------

def _kernel_dtype(dtype: np.dtype) -> np.dtype | None:
    """The dtype the kernels see for a numpy dtype (bfloat16 -> its uint16 bits), or None."""
    if dtype in (F16, F32, F64) and dtype.isnative:
        return dtype
    if is_bf16(dtype):
        return BF16_BITS
    return None


def _from_torch(t: Any, name: str) -> np.ndarray:
    t = t.detach()
    if str(t.dtype) == "torch.bfloat16":
        import torch  # already imported: t is a torch tensor

        return t.view(torch.int16).numpy().view(BF16_BITS)
    try:
        return t.numpy()
    except (TypeError, RuntimeError) as exc:
        raise TypeError(f"{name}: cannot clip a {describe(t)} in place ({exc}); gradients must "
                        f"be {DTYPES}") from None


def host_array(g: Any, name: str) -> tuple[np.ndarray, bool]:
    """(numpy array sharing the memory of host gradient ``g``, whether it holds bfloat16 bits
    as uint16: a PyTorch bfloat16 tensor); TypeError if impossible."""
    if isinstance(g, np.ndarray):
        return (g if type(g) is np.ndarray else g.view(np.ndarray)), False
    if is_torch_tensor(g):
        if getattr(g, "is_cuda", False) or str(getattr(g, "device", "cpu")) != "cpu":
            raise TypeError(f"{name}: a PyTorch tensor on {g.device} cannot be clipped here; "
                            "CPU and CUDA tensors are supported")
        a = _from_torch(g, name)
        return a, a.dtype == BF16_BITS
    return _exported(g, name), False


def _exported(g: Any, name: str) -> np.ndarray:
    if hasattr(g, "__array_interface__"):
        return np.asarray(g)
    if hasattr(g, "__dlpack__"):
        try:
            return np.from_dlpack(g)
        except (TypeError, RuntimeError, BufferError, ValueError) as exc:
            raise TypeError(f"{name}: cannot view a {type(g).__name__} in place through DLPack "
                            f"({exc}); accepted: {ACCEPTED}") from None
    raise TypeError(f"{name}: cannot clip a {type(g).__name__} in place; accepted: {ACCEPTED}")


def like(original: Any, result: np.ndarray) -> Any:
    """A new kernel-level ``result`` (bfloat16 as uint16 bits) in the kind of ``original``:
    a PyTorch tensor for a PyTorch input, an ``ml_dtypes.bfloat16`` array for one, else as is."""
    if is_torch_tensor(original):
        import torch

        if result.dtype == BF16_BITS:
            return torch.from_numpy(result.view(np.int16)).view(torch.bfloat16)
        return torch.from_numpy(result)
    d = getattr(original, "dtype", None)
    if result.dtype == BF16_BITS and isinstance(d, np.dtype) and is_bf16(d):
        return result.view(d)
    return result


def rows_shape(shape: tuple[int, ...], layout: Layout) -> tuple[int, int]:
    """(units, rest) of a gradient of ``shape`` in a ROWS or BATCH layout."""
    if layout is Layout.BATCH or len(shape) > 1:
        return shape[0], math.prod(shape[1:])
    return 1, math.prod(shape)


def _read_only(g: Any, name: str) -> ValueError:
    return ValueError(f"{name}: gradient {describe(g)} is read-only and cannot be clipped in "
                      "place")


def _host(g: Any, writable: bool, layout: Layout, name: str) -> tuple[np.ndarray, Any]:
    """(kernel-ready array, original array when a copy was needed)."""
    a, bits = host_array(g, name)
    d = a.dtype
    kd = d if bits else _kernel_dtype(d)
    if kd is None:
        if d.kind == "f" and d.itemsize in (2, 4, 8):  # non-native byte order
            kd = d.newbyteorder("=")
        else:
            raise TypeError(f"{name}: gradients must be {DTYPES}, got {describe(g)}")
    flags = a.flags
    if writable and not flags.writeable:
        raise _read_only(g, name)
    if layout is Layout.BATCH and a.ndim < 1:
        raise TypeError(f"{name}: per-example gradients need a leading batch axis, got a 0-d "
                        f"{describe(g)}")
    # in place when only the kernel's view differs (a bfloat16 array is read as its bits)
    in_place = kd == d or is_bf16(d)
    flat = layout in (Layout.FLAT, Layout.PER_TENSOR)
    direct = in_place and (flags.c_contiguous or (flags.f_contiguous and flat))
    work = a if direct else np.ascontiguousarray(a, dtype=d.newbyteorder("=") if d.kind == "f" else d)
    if kd != work.dtype:
        work = work.view(kd)
    if not flat:
        work = work.reshape(rows_shape(a.shape, layout))
    return work, (None if direct else a)


# --- device arrays --------------------------------------------------------------------------

def _device_dtype(a: Any) -> np.dtype:
    cai = getattr(a, "__cuda_array_interface__", None)
    return np.dtype(cai["typestr"]) if cai is not None else np.dtype(a.dtype)


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


def _device(a: Any, writable: bool, layout: Layout, name: str) -> Any:
    """A device array for the kernels: ``a`` itself, or its (rows, rest) view for row
    layouts (checked: dtype, writable, contiguous)."""
    d = _device_dtype(a)
    shape = tuple(a.shape)
    if d not in (F16, F32, F64):
        raise TypeError(f"{name}: device gradients must be {DTYPES.replace('bfloat16, ', '')}, "
                        f"got dtype {d} (device array of shape {shape})")
    cai = getattr(a, "__cuda_array_interface__", None)
    if cai is not None:
        if writable and cai["data"][1]:
            raise ValueError(f"{name}: device gradient of shape {shape} is read-only")
        strides = cai.get("strides")
        ok = _contiguous_strides(shape, d.itemsize)
        if strides is not None and tuple(strides) not in ok:
            raise ValueError(f"{name}: device gradient of shape {shape} must be contiguous "
                             f"(C or Fortran order), got strides {tuple(strides)}")
        c_order = strides is None or tuple(strides) == ok[0] or math.prod(shape) <= 1
    else:
        if not (a.is_c_contiguous() or a.is_f_contiguous()):
            raise ValueError(f"{name}: device gradient of shape {shape} must be contiguous")
        c_order = a.is_c_contiguous()
    if layout in (Layout.FLAT, Layout.PER_TENSOR):
        return a
    if not c_order:
        raise ValueError(f"{name}: unit-wise clipping of a device gradient needs C order, "
                         f"got a Fortran-ordered array of shape {shape}")
    if layout is Layout.BATCH and not shape:
        raise TypeError(f"{name}: per-example gradients need a leading batch axis")
    return cuda_kernels().as_device(a).reshape(rows_shape(shape, layout))


# --- the gather -----------------------------------------------------------------------------

_cache = IdentityCache(8)
_WRITEABLE = 0x400  # numpy's writeable flag bit
_signature = attrgetter("dtype", "flags.num")  # what may change on the same array object


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


def _cached(grads: list[Any], writable: bool) -> Gathered | None:
    """The kept gather of these very arrays, if each still has the dtype and flags it had.
    (Sizes need no check: numpy refuses to resize an array that has weak references.)"""
    hit = _cache.get(grads)
    if hit is None:
        return None
    dtype, plans, signature, writeable = hit
    if (writable and not writeable) or list(map(_signature, grads)) != signature:
        return None
    n = len(grads)
    return Gathered([Group(dtype, list(grads), list(range(n)), plans)], n, kept=list(range(n)))


def _keep(grads: list[Any], group: Group) -> None:
    """Keep ``group`` for ``grads`` when it holds exactly those arrays (what is kept holds no
    reference to them: their dtype, flags and the plans, tables of addresses)."""
    if len(group.arrays) == len(grads) and all(map(is_, group.arrays, grads)):
        signature = list(map(_signature, grads))
        writeable = all(flags & _WRITEABLE for _, flags in signature)
        _cache.put(grads, (group.dtype, group.plans, signature, writeable))


def gather(parameters: Any, *, writable: bool, layout: Layout = Layout.FLAT,
           name: str = "parameters") -> Gathered:
    """Collect and validate the gradients of ``parameters`` (nothing is modified here)."""
    if isinstance(parameters, GradBuffer):
        parameters.sync()
        parameters = [parameters.flat] if layout is Layout.FLAT else parameters.views
    grads = _grads(entries(parameters, name), name)
    flat = layout in (Layout.FLAT, Layout.PER_TENSOR)
    if flat and grads:
        seen = _cached(grads, writable)
        if seen is not None:
            return seen
    kept = [i for i, g in enumerate(grads) if g is not None]
    complete = len(kept) == len(grads)
    if not complete:
        grads = [grads[i] for i in kept]
    grads, positions, aliases = _distinct(grads)
    out = Gathered([], len(grads), kept=kept, aliases=aliases)
    by: dict[tuple[bool, np.dtype], Group] = {}
    last, grp = None, Group(F32)
    for pos, g in zip(positions, grads, strict=True):
        if type(g) is np.ndarray and flat:  # fast path: a plain contiguous float array
            d = g.dtype
            if d is F32 or d is F64:
                f = g.flags
                if f.c_contiguous or f.f_contiguous:
                    if writable and not f.writeable:
                        raise _read_only(g, name)
                    if d is not last:  # dtype hashing is slow: only on a change of dtype
                        last, grp = d, by.setdefault((False, d), Group(d))
                    grp.arrays.append(g)
                    grp.positions.append(pos)
                    continue
        dev = is_device_array(g)
        if dev:
            work, dtype = _device(g, writable, layout, name), _device_dtype(g)
        else:
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
    if flat and complete and len(out.groups) == 1 and not (out.device or out.copies or aliases):
        _keep(grads, out.groups[0])
    return out
