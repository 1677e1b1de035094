"""Launch geometry shared by every kernel.

A block of ``block`` threads handles one *chunk* of ``block * items`` consecutive elements
(each thread strides through the chunk, so loads coalesce). The chunking never depends on the
device, so reductions give identical bits on any GPU and in the simulator. Tests shrink the
geometry (``configure(block=8, items=2)``) to force the multi-block reduction path.
"""

from __future__ import annotations

MAX_BLOCK = 1024  # shared-memory arrays are sized for this many threads


class _Geometry:
    block = 256
    items = 16


def configure(block: int | None = None, items: int | None = None) -> tuple[int, int]:
    """Set threads per block (a power of two, 1..1024) and items per thread; returns the
    previous ``(block, items)``. Changing it changes the summation order (still fixed)."""
    old = (_Geometry.block, _Geometry.items)
    if block is not None:
        if not (isinstance(block, int) and 1 <= block <= MAX_BLOCK and block & (block - 1) == 0):
            raise ValueError(f"block must be a power of two in [1, {MAX_BLOCK}], got {block!r}")
        _Geometry.block = block
    if items is not None:
        if not (isinstance(items, int) and items >= 1):
            raise ValueError(f"items must be an int >= 1, got {items!r}")
        _Geometry.items = items
    return old


def block() -> int:
    """Threads per block."""
    return _Geometry.block


def chunk() -> int:
    """Elements per block."""
    return _Geometry.block * _Geometry.items


def blocks_for(n: int) -> int:
    """Blocks needed to cover ``n`` elements in chunks (at least 1, so launches are valid)."""
    c = chunk()
    return max(1, (n + c - 1) // c)
