"""Work tables: a flat buffer holding several segments (tensors, or rows) cut into chunks.

Every block of a segmented kernel handles one chunk of one segment: elements
``[start[b], stop[b])`` of the flat buffer, belonging to segment ``seg[b]``; segment ``s``
owns blocks ``[first[s], first[s + 1])`` (none when it is empty). Tables are built with numpy,
copied to the device once and cached by (chunk, sizes), so a ``GradBuffer`` pays for its table
on the first call only.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _config
from ._runtime import cuda_module

cuda = cuda_module()


@dataclass(frozen=True)
class WorkTable:
    """Device int64 arrays ``seg, start, stop`` (per block) and ``first`` (nseg + 1)."""

    seg: Any
    start: Any
    stop: Any
    first: Any
    nseg: int
    nblocks: int


def build(sizes: np.ndarray, chunk: int) -> tuple[np.ndarray, ...]:
    """Host arrays (seg, start, stop, first) for segments of ``sizes`` laid back to back."""
    sizes = np.asarray(sizes, np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    nb = (sizes + chunk - 1) // chunk
    first = np.concatenate([[0], np.cumsum(nb)]).astype(np.int64)
    seg = np.repeat(np.arange(sizes.size, dtype=np.int64), nb)
    start = offsets[seg] + (np.arange(first[-1], dtype=np.int64) - first[seg]) * chunk
    stop = np.minimum(start + chunk, offsets[seg + 1])
    return seg, start, stop, first


_cache: OrderedDict[tuple[int, bytes], WorkTable] = OrderedDict()


def table(sizes: np.ndarray) -> WorkTable:
    """The (cached) device work table for segments of ``sizes`` at the current chunk size."""
    sizes = np.ascontiguousarray(sizes, np.int64)
    key = (_config.chunk(), sizes.tobytes())
    hit = _cache.get(key)
    if hit is not None:
        _cache.move_to_end(key)
        return hit
    seg, start, stop, first = build(sizes, key[0])
    if seg.size == 0:  # keep every device array non-empty (valid kernel arguments)
        seg = start = stop = np.zeros(1, np.int64)
    t = WorkTable(*(cuda.to_device(a) for a in (seg, start, stop, first)), int(sizes.size), int(first[-1]))
    _cache[key] = t
    if len(_cache) > _config.TABLE_CACHE_SIZE:
        _cache.popitem(last=False)
    return t
