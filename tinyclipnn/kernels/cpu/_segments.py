"""Segment tables: many arrays seen by one Numba kernel call without copying.

A *segment* is the memory of one contiguous array (C or Fortran order), described by its data
address and element count. ``segment_table`` turns a list of arrays into ``(addrs, sizes)``
int64 arrays, and ``work_items`` cuts the segments into fixed chunks of ``CHUNK`` elements, the
unit of parallel work. Fixed chunks plus a fixed-order combine make every reduction
bit-identical for any thread count. Kernels read a segment with ``segment_view``.

Building a table costs about 1 us per array, so the last few tables are cached, keyed by the
identity of the arrays (checked through weak references, so no freed memory is ever reused).
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
from numba import carray, types
from numba.extending import intrinsic

from .._jit import njit

CHUNK = 1 << 15  # elements per work item (128 KiB of float32): fits L2, amortises scheduling
_CACHE_SIZE = 8


@intrinsic
def _address_as_pointer(typingctx, addr, proto):
    """Reinterpret an int64 address as a pointer to ``proto``'s element type."""
    ptr_t = types.CPointer(proto.dtype)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(ptr_t))

    return ptr_t(addr, proto), codegen


@njit(inline="always")
def segment_view(addr, size, proto):
    """1-D array over ``size`` elements of ``proto.dtype`` starting at address ``addr``."""
    return carray(_address_as_pointer(addr, proto), (size,))


@njit(cache=True)
def work_items(sizes: np.ndarray, chunk: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut segments into chunks: (segment index, start, stop) per work item, in order."""
    n = 0
    for s in sizes:
        n += (s + chunk - 1) // chunk
    seg = np.empty(n, np.int64)
    start = np.empty(n, np.int64)
    stop = np.empty(n, np.int64)
    k = 0
    for i in range(sizes.shape[0]):
        for lo in range(0, sizes[i], chunk):
            seg[k] = i
            start[k] = lo
            stop[k] = min(lo + chunk, sizes[i])
            k += 1
    return seg, start, stop


class SegmentTable:
    """Addresses, sizes and work items for a list of arrays of one dtype."""

    __slots__ = ("addrs", "sizes", "seg", "start", "stop", "proto", "total")

    def __init__(self, addrs: np.ndarray, sizes: np.ndarray, dtype: np.dtype) -> None:
        self.addrs = addrs
        self.sizes = sizes
        self.seg, self.start, self.stop = work_items(sizes, CHUNK)
        self.proto = np.empty(0, dtype)
        self.total = int(sizes.sum())


_tables: OrderedDict[tuple[int, int], tuple[list, SegmentTable]] = OrderedDict()


def segment_table(arrays: Sequence[np.ndarray]) -> SegmentTable:
    """Table for contiguous arrays of one float dtype (cached by array identity)."""
    key = (len(arrays), id(arrays[0]) if arrays else 0)
    hit = _tables.get(key)
    if hit is not None:
        refs, table = hit
        if all(r() is a for r, a in zip(refs, arrays, strict=True)):
            _tables.move_to_end(key)
            return table
    dtype = arrays[0].dtype if arrays else np.dtype(np.float64)
    for a in arrays:  # memory safety: kernels index raw addresses with this dtype and size
        if a.dtype != dtype or not (a.flags.c_contiguous or a.flags.f_contiguous):
            raise TypeError("segment_table: arrays must be contiguous and share one dtype")
    addrs = np.fromiter((a.ctypes.data for a in arrays), np.int64, len(arrays))
    sizes = np.fromiter((a.size for a in arrays), np.int64, len(arrays))
    table = SegmentTable(addrs, sizes, dtype)
    _tables[key] = ([weakref.ref(a) for a in arrays], table)
    if len(_tables) > _CACHE_SIZE:
        _tables.popitem(last=False)
    return table


def row_table(x2d: np.ndarray) -> SegmentTable:
    """Table whose segments are the rows of a C-contiguous 2-D array (not cached)."""
    rows, cols = x2d.shape
    base = x2d.ctypes.data if x2d.size else 0
    addrs = base + np.arange(rows, dtype=np.int64) * (cols * x2d.itemsize)
    return SegmentTable(addrs, np.full(rows, cols, np.int64), x2d.dtype)
