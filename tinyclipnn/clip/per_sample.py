"""Per-example clipping for DP-SGD (Abadi et al. 2016), flat clipping as Opacus defines it."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from . import _checks
from ._backend import get_backend
from ._grads import check_array
from .norm import EPS, combine_norms


class PerSampleResult(NamedTuple):
    """``grads``: per tensor, the clipped per-example gradients summed over the batch (+ noise);
    ``norms``: each example's norm before clipping, float64 (batch,);
    ``num_clipped``: how many examples were scaled down."""

    grads: list[np.ndarray]
    norms: np.ndarray
    num_clipped: int


def clip_per_sample_(
    per_sample_grads: Any,
    max_norm: float,
    noise_multiplier: float = 0.0,
    rng: np.random.Generator | int | None = None,
    *,
    backend: str = "auto",
) -> PerSampleResult:
    """Clip each example's gradient (across all tensors) to L2 norm ``max_norm``, then sum.

    ``per_sample_grads``: array or list of arrays of shape (batch, *param_shape), same batch.
    Each example i is scaled in place by ``min(1, max_norm / (n_i + 1e-6))`` where n_i is its
    norm over all tensors; the scaled gradients are summed over the batch axis and, when
    ``noise_multiplier`` > 0, Gaussian noise with std ``noise_multiplier * max_norm`` is added
    (``rng``: a numpy Generator or seed). Returns a ``PerSampleResult``.
    """
    max_norm = _checks.threshold("max_norm", max_norm)
    sigma = _checks.threshold("noise_multiplier", noise_multiplier)
    single = isinstance(per_sample_grads, np.ndarray)
    arrays = [per_sample_grads] if single else list(per_sample_grads)
    for a in arrays:
        if not isinstance(a, np.ndarray) or a.ndim < 1:
            raise TypeError(
                "per_sample_grads must be arrays of shape (batch, ...); got "
                f"{type(a).__name__} {getattr(a, 'shape', '')}"
            )
        check_array(a, True, "per_sample_grads")
    batches = {a.shape[0] for a in arrays}
    if len(batches) > 1:
        raise ValueError(f"per_sample_grads: all arrays need the same batch size, got {batches}")
    be = get_backend(backend)
    rows = [
        np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("=")).reshape(
            a.shape[0], math.prod(a.shape[1:])
        )
        for a in arrays
    ]
    batch = batches.pop() if batches else 0
    norms = combine_norms(np.stack([be.row_norms(r) for r in rows]), 2.0) if rows else np.zeros(0)
    norms = np.atleast_1d(np.asarray(norms, np.float64))
    with np.errstate(all="ignore"):
        factor = np.minimum(1.0, max_norm / (norms + EPS))
    factor[np.isnan(norms)] = np.nan
    out = []
    for a, r in zip(arrays, rows, strict=True):
        be.row_scale_(r, factor)
        if not np.shares_memory(a, r):
            a[...] = r.reshape(a.shape)
        s = be.col_sum(r).reshape(a.shape[1:]) if batch else np.zeros(a.shape[1:], a.dtype)
        if sigma > 0:
            gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
            s += gen.normal(0.0, sigma * max_norm, s.shape).astype(s.dtype)
            rng = gen
        out.append(s)
    return PerSampleResult(out, norms, int(np.count_nonzero(factor < 1.0)))
