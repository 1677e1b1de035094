"""Tunables of the CUDA kernels (launch geometry and caches), and the geometry in force.

A block of ``block`` threads handles one *chunk* of ``block * items`` consecutive elements
(each thread strides through the chunk, so loads coalesce). The chunking never depends on the
device, so reductions give identical bits on any GPU and in the simulator. Tests shrink the
geometry (``configure(block=8, items=2)``) to force the multi-block reduction path.
"""

from __future__ import annotations

MAX_BLOCK = 1024  # shared-memory arrays are sized for this many threads
BLOCK = 256  # threads per block (not measured on a GPU here: numba's common choice)
ITEMS = 16  # elements per thread and chunk (not measured on a GPU here)
TABLE_CACHE_SIZE = 16  # device work tables kept (``_segments``), by (chunk, sizes)
SCRATCH_MIN = 1024  # float64 elements of the smallest reusable device scratch buffer

_block, _items = BLOCK, ITEMS  # the geometry in force (``configure``)


def configure(block: int | None = None, items: int | None = None) -> tuple[int, int]:
    """Set threads per block (a power of two, 1..1024) and items per thread; returns the
    previous ``(block, items)``. Changing it changes the summation order (still fixed)."""
    global _block, _items
    old = (_block, _items)
    if block is not None:
        if not (isinstance(block, int) and 1 <= block <= MAX_BLOCK and block & (block - 1) == 0):
            raise ValueError(f"block must be a power of two in [1, {MAX_BLOCK}], got {block!r}")
    if items is not None and not (isinstance(items, int) and items >= 1):
        raise ValueError(f"items must be an int >= 1, got {items!r}")
    _block = _block if block is None else block
    _items = _items if items is None else items
    return old


def block() -> int:
    """Threads per block."""
    return _block


def chunk() -> int:
    """Elements per block."""
    return _block * _items


def blocks_for(n: int) -> int:
    """Blocks needed to cover ``n`` elements in chunks (at least 1, so launches are valid)."""
    c = chunk()
    return max(1, (n + c - 1) // c)
