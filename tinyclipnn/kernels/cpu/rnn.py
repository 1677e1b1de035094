"""Fused recurrent layer kernels (Numba): one layer and direction, all time steps, and its BPTT.

``forward(mode, xw, w_hh, b_hh, h0, c0, lengths, reverse)`` and ``backward(...)`` have the same
signatures, conventions and results as the plain-numpy `rnn_reference` (read its docstring for
masking by ``lengths``, the reverse direction, ``bptt_clip`` and the recorded gradient norms).

Shapes: ``xw`` (T, B, G*H) input projections ``x @ W_ih.T + b_ih``; ``w_hh`` (G*H, H);
``b_hh`` (G*H,); ``h0``, ``c0`` (B, H); ``lengths`` (B,) ints or None (all T). ``mode``: a
`kernels.rnn_cells` kind or its name ("RNN_TANH", "RNN_RELU", "RNN_SIGMOID", "LSTM", "GRU"),
which fixes G and the gate order. The weight gradient ``dW_hh = sum_t dgates_t.T @ h_{t-1}``
is one matmul over all steps after the loop.
The kernels themselves are in `rnn_kernels` (compiled per dtype on first use, cached on disk).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .. import rnn_cells, runtime
from ..config import GRU_DW_CHUNKS, PARALLEL_MIN_WORK
from ..runtime import max_threads, split_run
from ..runtime import one_blas_thread as one_thread
from . import rnn_kernels
from ._blas import matmul
from ._cblas import gemm_handle

__all__ = ["forward", "backward", "matmul", "one_thread"]

_CLIP_CODES = {None: 0, "value": 1, "norm": 2}


def clip_code(clip_mode: str | None) -> int:
    """``bptt_clip``'s mode (None, "value", "norm") as the kernels' code (0, 1, 2)."""
    if clip_mode not in _CLIP_CODES:
        raise ValueError(f"clip_mode must be None, 'value' or 'norm', got {clip_mode!r}")
    return _CLIP_CODES[clip_mode]


class _Recurrence(NamedTuple):
    """The arguments every forward kernel of `rnn_kernels` starts with, in its order."""

    blas: Any
    xw: np.ndarray
    w_hh_t: np.ndarray
    b_hh: np.ndarray
    lengths: np.ndarray
    reverse: bool
    y: np.ndarray
    h: np.ndarray


class _Bptt(NamedTuple):
    """The arguments every backward kernel of `rnn_kernels` starts with, in its order."""

    blas: Any
    dy: np.ndarray
    w_hh: np.ndarray
    lengths: np.ndarray
    reverse: bool
    clip_code: int
    clip_value: float
    record: bool
    dxw: np.ndarray
    dh: np.ndarray
    norms: np.ndarray


def _run(kernel, work: int, common: _Recurrence | _Bptt, *specific) -> None:
    """Run ``kernel(*common, *specific)`` over all batch rows: serially, or split over
    ``numba.get_num_threads()`` Python threads (`_threads.split_run`) when the recurrent
    matmuls take ``work`` >= `PARALLEL_MIN_WORK` multiply-adds.

    Rows never interact, so each thread runs the whole time loop on its slice (no per-step
    synchronisation); small problems stay on one thread. The kernels release the GIL
    (``nogil=True``); plain threads are used rather than a ``prange`` because numba's OpenMP
    layer spin-waits after each launch (see `_threads`). Call inside `_blas.one_thread`: a BLAS
    pool would meet at a barrier after each tiny per-step matmul.
    """
    B = common.lengths.shape[0]
    n = min(max_threads(), B // 8) if work >= PARALLEL_MIN_WORK else 1
    split_run(kernel, B, max(n, 1), *common, *specific)


def _blas(dtype) -> np.ndarray | None:
    """The kernels' gemm argument: numpy's cblas handle, or None for the np.dot fallback."""
    handle = gemm_handle(dtype)
    return handle if handle[0] else None


def _prep(a, dtype) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=dtype)


def check_lengths(lengths, T: int, B: int) -> np.ndarray:
    """``lengths`` as (B,) int64 in [0, T] (None: all T)."""
    if lengths is None:
        return np.full(B, T, np.int64)
    lens = _prep(lengths, np.int64)
    if lens.shape != (B,) or (lens.size and (lens.min() < 0 or lens.max() > T)):
        raise ValueError(f"lengths must be {B} integers in [0, {T}], got {lengths!r}")
    return lens


def forward(mode, xw, w_hh, b_hh, h0, c0=None, lengths=None, reverse=False, overwrite_xw=False,
            save=True):
    """Fused forward. Returns ``(y (T,B,H), h_n (B,H), c_n (B,H) or None, saved)``.

    ``overwrite_xw=True`` lets the kernel store gate activations in ``xw`` (no extra buffer);
    ``xw`` must then be C-contiguous. ``saved`` is what `backward` needs; ``save=False``
    (inference) skips the per-step states only backward reads.
    """
    kind = rnn_cells.cell_kind(mode)
    dt = np.dtype(xw.dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"xw must be float32 or float64, got {dt}")
    T, B, G = xw.shape
    H = G // kind.gate_count
    xw = xw if overwrite_xw and xw.flags.c_contiguous else np.array(xw, dtype=dt, order="C")
    lens = check_lengths(lengths, T, B)
    h0 = _prep(h0, dt)
    run = _Recurrence(blas=_blas(dt), xw=xw, w_hh_t=_prep(w_hh.T, dt), b_hh=_prep(b_hh, dt),
                      lengths=lens, reverse=bool(reverse), y=np.zeros((T, B, H), dt),
                      h=h0.copy())
    states = (T if save else 0, B, H)
    work = T * B * G * H
    with one_thread():
        if kind.has_cell_state:
            c0 = _prep(c0, dt)
            c, c_all = c0.copy(), runtime.empty(states, dt)
            _run(rnn_kernels.lstm_forward_rows, work, run, c, c_all)
            return run.y, run.h, c, (run.y, h0, xw, c_all, c0)
        if kind.separate_biases:
            hn_all = runtime.empty(states, dt)
            _run(rnn_kernels.gru_forward_rows, work, run, hn_all, np.empty((B, G), dt))
            return run.y, run.h, None, (run.y, h0, xw, hn_all)
        _run(rnn_kernels.rnn_forward_rows, work, run, kind.activation_code)
        return run.y, run.h, None, (run.y, h0)


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1, a.shape[-1])


def _state_matmul(d, y, h0, lens, reverse, out, t0=0) -> np.ndarray:
    """``out += sum_t d[t - t0].T @ h_{t-1}`` (K, H) over steps t0 .. t0 + len(d) - 1, with d
    (n, B, K): one matmul over all those steps instead of one per step.

    h_{t-1}, the state before step t, is y at the previous step in processing order (t-1, or t+1
    when reversed), or h0 at each row's first active step. Inactive steps have d = 0, so only
    the reverse direction with a row shorter than T needs a fix-up: its first active step
    (len-1) finds a zero y (a masked output) after it instead of h0.
    """
    T, t1 = y.shape[0], t0 + d.shape[0]
    lo, hi = (t0, min(t1, T - 1)) if reverse else (max(t0, 1), t1)  # steps that take a y
    if hi > lo:
        shift = 1 if reverse else -1
        out += matmul(_flat(d[lo - t0 : hi - t0]).T, _flat(y[lo + shift : hi + shift]))
    first = T - 1 if reverse else 0
    if t0 <= first < t1:
        out += d[first - t0].T @ h0
    if reverse:
        short = np.nonzero((lens > 0) & (lens < T) & (lens - 1 >= t0) & (lens - 1 < t1))[0]
        if short.size:
            out += d[lens[short] - 1 - t0, short].T @ h0[short]
    return out


def backward(mode, saved, dy, dh_n, dc_n, w_hh, lengths=None, reverse=False,
             clip_mode=None, clip_value=0.0, record=False):
    """Fused BPTT. Returns ``(dxw, dw_hh, db_hh, dh0, dc0 or None, norms (T,B) or None)``.

    ``clip_mode`` None / "value" / "norm" with ``clip_value`` clips the state gradient at every
    step; ``record`` returns ``norms[t, b] = ||dL/dh_t||`` (float64) for active steps, else 0.
    """
    kind = rnn_cells.cell_kind(mode)
    code = clip_code(clip_mode)
    y, h0 = saved[:2]
    dt = y.dtype
    T, B, H = y.shape
    G = kind.gate_count * H
    lens = check_lengths(lengths, T, B)
    bptt = _Bptt(blas=_blas(dt), dy=_prep(dy, dt), w_hh=_prep(w_hh, dt), lengths=lens,
                 reverse=bool(reverse), clip_code=code,
                 clip_value=float(clip_value), record=bool(record),
                 dxw=runtime.empty((T, B, G), dt),  # the kernels zero rows past each length
                 dh=_prep(dh_n, dt).copy(), norms=np.zeros((T if record else 0, B)))
    dxw, dh0 = bptt.dxw, bptt.dh
    norms = bptt.norms if record else None
    dc0 = None
    dw_hh = np.zeros((G, H), dt)
    work = T * B * G * H
    with one_thread():
        if kind.has_cell_state:
            _, _, gates, c_all, c0 = saved
            dc0 = _prep(dc_n, dt).copy()
            _run(rnn_kernels.lstm_backward_rows, work, bptt, gates, c_all, c0, dc0)
        elif kind.separate_biases:
            _, _, gates, hn_all = saved
            _run(rnn_kernels.gru_backward_rows, work, bptt, gates, hn_all, y, h0,
                 np.empty((B, G), dt))
        else:
            _run(rnn_kernels.rnn_backward_rows, work, bptt, y, kind.activation_code)
        if T == 0:
            return dxw, dw_hh, np.zeros(G, dt), dh0, dc0, norms
        if kind.separate_biases:  # r, z rows take dxw; n rows take r * dn (in chunks: less memory)
            _state_matmul(dxw[:, :, : 2 * H], y, h0, lens, reverse, dw_hh[: 2 * H])
            db_hh = np.concatenate([_flat(dxw)[:, : 2 * H].sum(axis=0), np.zeros(H, dt)])
            step = -(-T // GRU_DW_CHUNKS)
            for t0 in range(0, T, step):
                dnr = dxw[t0 : t0 + step, :, 2 * H :] * gates[t0 : t0 + step, :, :H]
                _state_matmul(dnr, y, h0, lens, reverse, dw_hh[2 * H :], t0)
                db_hh[2 * H :] += _flat(dnr).sum(axis=0)
        else:
            _state_matmul(dxw, y, h0, lens, reverse, dw_hh)
            db_hh = _flat(dxw).sum(axis=0)
    return dxw, dw_hh, db_hh, dh0, dc0, norms
