"""Per-example clipping for DP-SGD (Abadi et al. 2016), flat clipping as Opacus defines it."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from . import _checks
from ._backends import EPS, NonFinite, clip_coefficient, from_f64, to_f64
from ._gather import Layout, is_device_array, like
from ._pipeline import combine_norms, prepare


class PerSampleResult(NamedTuple):
    """``grads``: per tensor, the clipped per-example gradients summed over the batch (+ noise);
    ``norms``: each example's norm before clipping, float64 (batch,);
    ``num_clipped``: how many examples had a norm above ``max_norm``."""

    grads: list[Any]
    norms: np.ndarray
    num_clipped: int


def _generator(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {rng!r}")


def _add_noise(s: Any, gen: np.random.Generator, std: float) -> Any:
    """``s + N(0, std^2)`` formed in float64 and rounded once to s's dtype."""
    noise = gen.normal(0.0, std, tuple(s.shape))
    if is_device_array(s):
        host = s.copy_to_host()
        s.copy_to_device(from_f64(to_f64(host) + noise, host.dtype))
        return s
    return from_f64(to_f64(s) + noise, s.dtype)


def clip_per_sample_(
    per_sample_grads: Any,
    max_norm: float,
    noise_multiplier: float = 0.0,
    rng: np.random.Generator | int | None = None,
    *,
    backend: str = "auto",
) -> PerSampleResult:
    """Clip each example's gradient (across all tensors) to L2 norm ``max_norm``, then sum.

    ``per_sample_grads``: array or list of arrays of shape ``(batch, *param_shape)``, same batch;
    host or device arrays. Each example i is scaled in place by ``min(1, max_norm / (n_i +
    1e-6))`` where n_i is its norm over all tensors; the scaled gradients are summed over the
    batch axis and, when ``noise_multiplier`` > 0, Gaussian noise with std
    ``noise_multiplier * max_norm`` is added (``rng``: a numpy Generator or seed). An example
    counts as clipped when its norm exceeds ``max_norm`` (as Optax). Returns a
    ``PerSampleResult``.
    """
    max_norm = _checks.THRESHOLD(max_norm, "max_norm")
    sigma = _checks.NONNEGATIVE(noise_multiplier, "noise_multiplier")
    if sigma > 0 and math.isinf(max_norm):
        raise ValueError(f"noise_multiplier={noise_multiplier!r} > 0 needs a finite max_norm "
                         "(the noise std is noise_multiplier * max_norm), got max_norm=inf")
    gen = _generator(rng) if sigma > 0 else None
    if isinstance(per_sample_grads, (list, tuple)):
        arrays = list(per_sample_grads)
    else:
        arrays = [per_sample_grads]
    for a in arrays:
        if hasattr(a, "grad") and not hasattr(a, "__array_interface__"):
            raise TypeError("per_sample_grads must be arrays of shape (batch, ...), got "
                            f"{type(a).__name__}")
    g, be = prepare(arrays, backend, layout=Layout.BATCH, name="per_sample_grads")
    rows = [None] * len(arrays)
    for grp in g.groups:
        for pos, r in zip(grp.positions, grp.arrays, strict=True):
            rows[pos] = r
    for pos, same in g.aliases:
        rows[pos] = rows[same]
    distinct = [r for grp in g.groups for r in grp.arrays]
    batches = {int(r.shape[0]) for r in distinct}
    if len(batches) > 1:
        raise ValueError(f"per_sample_grads: all arrays need the same batch size, got {batches}")
    batch = batches.pop() if batches else 0
    per = [be.row_norms(r, 2.0) for r in distinct]
    norms = combine_norms(np.stack(per), 2.0) if per else np.zeros(0)
    norms = np.atleast_1d(np.asarray(norms, np.float64)).reshape(batch if per else 0)
    factor = np.array([clip_coefficient(n, max_norm, EPS, NonFinite.PROPAGATE)
                       for n in norms.tolist()], np.float64)
    for r in distinct:
        be.row_scale_(r, factor)
    g.write_back()
    out = []
    for a, r in zip(arrays, rows, strict=True):
        s = be.col_sum(r).reshape(tuple(a.shape[1:]))
        if gen is not None:
            s = _add_noise(s, gen, sigma * max_norm)
        out.append(s if is_device_array(s) else like(a, s))
    return PerSampleResult(out, norms, int(np.count_nonzero(norms > max_norm)))
