"""Segment tables: many arrays seen by one Numba kernel call without copying.

A *segment* is the memory of one contiguous array (C or Fortran order), described by its data
address and element count. ``segment_table`` turns a list of arrays into ``(addrs, sizes)``
int64 arrays, and ``work_items`` cuts the segments into blocks of ``NORM_BLOCK`` elements (one
norm partial each), the items threads claim. Fixed blocks plus a fixed-order combine make
every reduction bit-identical for any thread count and claim size. Kernels read a segment with
``segment_view``.

Building a table costs about 1 us per array, so the last few tables are cached, keyed by the
identity of the arrays (``runtime.IdentityCache``: weak references, so no freed memory is
ever reused) and re-validated on every hit (dtype and size: an array resized or re-typed in
place misses). A table can also be built once and passed to several kernel calls (``plan``).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from operator import attrgetter, is_

import numpy as np
from numba import carray, types
from numba.extending import intrinsic

from .._jit import njit
from ..config import NORM_BLOCK, TABLE_CACHE_SIZE
from ..runtime import IdentityCache


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


@njit(inline="always")
def item_view(addrs, sizes, seg, start, stop, proto, k):
    """Work item ``k``'s elements: a 1-D view of its part of its segment."""
    return segment_view(addrs[seg[k]], sizes[seg[k]], proto)[start[k] : stop[k]]


def work_items(sizes: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut segments into blocks: (segment index, start, stop) per work item, in order.

    Plain numpy (a few calls; tables are cached): as a Numba kernel it cost ~0.3 s of
    compilation on a process's first clip."""
    sizes = np.asarray(sizes, np.int64)
    counts = (sizes + block - 1) // block
    seg = np.repeat(np.arange(sizes.shape[0], dtype=np.int64), counts)
    first = np.cumsum(counts) - counts  # each segment's first item
    start = (np.arange(seg.shape[0], dtype=np.int64) - first[seg]) * block
    stop = np.minimum(start + block, sizes[seg])
    return seg, start, stop


class SegmentTable:
    """Addresses, sizes and work items for a list of arrays of one dtype."""

    __slots__ = ("addrs", "sizes", "size_list", "seg", "start", "stop", "first", "dtype", "proto",
                 "kind", "total")

    def __init__(self, addrs: np.ndarray, sizes: np.ndarray, dtype: np.dtype) -> None:
        self.addrs = addrs
        self.sizes = sizes
        self.size_list = sizes.tolist()
        self.seg, self.start, self.stop = work_items(sizes, NORM_BLOCK)
        self.first = np.zeros(sizes.size + 1, np.int64)  # segment s owns items first[s]:first[s+1]
        np.cumsum((sizes + NORM_BLOCK - 1) // NORM_BLOCK, out=self.first[1:])
        self.dtype = np.dtype(dtype)
        # 16-bit floats are read through their bits: kind 1 float16, 2 bfloat16 (uint16)
        self.kind = {np.dtype(np.float16): 1, np.dtype(np.uint16): 2}.get(self.dtype, 0)
        self.proto = np.empty(0, np.uint16 if self.kind else dtype)
        self.total = int(sizes.sum())

    def __len__(self) -> int:
        return len(self.size_list)


_tables = IdentityCache(TABLE_CACHE_SIZE)
_dtype, _size = attrgetter("dtype"), attrgetter("size")


def _still_valid(table: SegmentTable, arrays: Sequence[np.ndarray]) -> bool:
    """Each array still of the table's dtype and size (an array resized or re-typed in place
    must not be indexed with stale sizes)."""
    return (all(map(is_, map(_dtype, arrays), repeat(table.dtype)))
            and list(map(_size, arrays)) == table.size_list)


def segment_table(arrays: Sequence[np.ndarray]) -> SegmentTable:
    """Table for contiguous arrays of one dtype (cached by array identity, thread-safe)."""
    table = _tables.get(arrays)
    if table is not None and _still_valid(table, arrays):
        return table
    dtype = arrays[0].dtype if arrays else np.dtype(np.float64)
    for a in arrays:  # memory safety: kernels index raw addresses with this dtype and size
        if a.dtype != dtype or not (a.flags.c_contiguous or a.flags.f_contiguous):
            raise TypeError("segment_table: arrays must be contiguous and share one dtype")
    addrs = np.fromiter((a.ctypes.data for a in arrays), np.int64, len(arrays))
    sizes = np.fromiter((a.size for a in arrays), np.int64, len(arrays))
    table = SegmentTable(addrs, sizes, dtype)
    _tables.put(arrays, table)
    return table


def row_table(x2d: np.ndarray) -> SegmentTable:
    """Table whose segments are the rows of a C-contiguous 2-D array (not cached)."""
    rows, cols = x2d.shape
    base = x2d.ctypes.data if x2d.size else 0
    addrs = base + np.arange(rows, dtype=np.int64) * (cols * x2d.itemsize)
    return SegmentTable(addrs, np.full(rows, cols, np.int64), x2d.dtype)
