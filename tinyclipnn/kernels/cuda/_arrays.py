"""Turning what callers pass into 1-D device arrays, without copying device memory.

Accepted: numba device arrays, any object with ``__cuda_array_interface__`` (CuPy arrays,
PyTorch CUDA tensors: wrapped by ``numba.cuda.as_cuda_array``, no copy) and host numpy arrays
(copied to the device and, for in-place work, back: for testing, not for speed). Under the
simulator "device memory" is host memory, so an interface pointer is read as a host address.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ._runtime import cuda_module, simulator_enabled

cuda = cuda_module()
_SIM = simulator_enabled()
if _SIM:
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray


def is_device_array(obj: Any) -> bool:
    """True for numba device arrays and objects exposing ``__cuda_array_interface__``."""
    if _SIM and isinstance(obj, FakeCUDAArray):
        return True
    return hasattr(obj, "__cuda_array_interface__")


def _sim_view(ptr: int, shape: tuple[int, ...], strides: Any, dtype: np.dtype, owner: Any):
    """Simulator: a device array over host memory at ``ptr`` (kept alive by ``owner``)."""
    n = int(np.prod(shape)) if shape else 1
    buf = (ctypes.c_char * max(1, n * dtype.itemsize)).from_address(ptr) if ptr else b"\0"
    a = np.frombuffer(buf, dtype, count=n).reshape(shape)
    if strides is not None:
        a = np.lib.stride_tricks.as_strided(a, shape, strides)
    out = FakeCUDAArray(a)
    out._tinyclipnn_owner = owner  # noqa: SLF001  (keeps the source memory alive)
    return out


def as_device(obj: Any) -> Any:
    """A numba device array sharing ``obj``'s device memory (no copy)."""
    if _SIM:
        if isinstance(obj, FakeCUDAArray):
            return obj
        cai = obj.__cuda_array_interface__
        dt = np.dtype(cai["typestr"])
        return _sim_view(cai["data"][0], tuple(cai["shape"]), cai.get("strides"), dt, obj)
    if cuda.is_cuda_ndarray(obj):
        return obj
    return cuda.as_cuda_array(obj)


def pointer(dev: Any) -> int:
    """Device address of the first element."""
    if _SIM:
        return dev._ary.ctypes.data  # noqa: SLF001
    return dev.__cuda_array_interface__["data"][0]


def flat(dev: Any) -> Any:
    """1-D view of a contiguous (C or Fortran order) device array."""
    if dev.ndim == 1:
        return dev
    fortran = dev.ndim > 1 and dev.is_f_contiguous() and not dev.is_c_contiguous()
    return dev.reshape(dev.size, order="F" if fortran else "C")


def view(ptr: int, n: int, dtype: np.dtype, owner: Any) -> Any:
    """1-D device array of ``n`` elements at device address ``ptr`` (memory of ``owner``)."""
    if _SIM:
        return _sim_view(ptr, (n,), None, dtype, owner)
    desc = {"shape": (n,), "strides": None, "typestr": dtype.str, "data": (ptr, False), "version": 2}
    return cuda.from_cuda_array_interface(desc, owner=owner, sync=False)


def runs(devs: Sequence[Any]) -> list[tuple[Any, np.ndarray]]:
    """Group 1-D device arrays lying back to back in memory into one flat view each:
    ``[(flat view, sizes of the arrays it covers)]`` in order. A device ``GradBuffer``'s
    per-tensor views form a single run, so per-tensor work is one launch."""
    out: list[tuple[Any, np.ndarray]] = []
    i = 0
    while i < len(devs):
        j, end = i + 1, pointer(devs[i]) + devs[i].nbytes
        same = devs[i].dtype
        while j < len(devs) and devs[j].dtype == same and (devs[j].size == 0 or pointer(devs[j]) == end):
            end += devs[j].nbytes
            j += 1
        sizes = np.array([d.size for d in devs[i:j]], np.int64)
        if j - i == 1:
            base = devs[i]
        else:
            base = view(pointer(devs[i]), int(sizes.sum()), devs[i].dtype, devs[i:j])
        out.append((base, sizes))
        i = j
    return out


@contextmanager
def on_device(arrays: Sequence[Any], write_back: bool) -> Iterator[list[Any]]:
    """1-D device views of ``arrays`` (device arrays: no copy). Host numpy arrays are packed
    into one device buffer (so they form a single run) and, with ``write_back``, copied back
    into the original arrays on exit."""
    host = [i for i, a in enumerate(arrays) if not is_device_array(a)]
    hset = set(host)
    devs = [None if i in hset else flat(as_device(a)) for i, a in enumerate(arrays)]
    if host:
        parts = [np.asarray(arrays[i]).reshape(-1, order="A") for i in host]
        offs = np.concatenate([[0], np.cumsum([p.size for p in parts])])
        packed = cuda.to_device(np.concatenate(parts) if len(parts) > 1 else parts[0].copy())
        for i, lo, hi in zip(host, offs[:-1], offs[1:], strict=True):
            devs[i] = packed[lo:hi]
    yield devs
    if write_back and host:
        h = packed.copy_to_host()
        for i, lo, hi in zip(host, offs[:-1], offs[1:], strict=True):
            a = arrays[i]
            a[...] = h[lo:hi].reshape(a.shape, order="F" if _is_fortran(a) else "C")


def _is_fortran(a: np.ndarray) -> bool:
    return a.ndim > 1 and a.flags.f_contiguous and not a.flags.c_contiguous
