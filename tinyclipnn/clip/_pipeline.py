"""The steps every clip function is built from:

    g     = gather(parameters, layout)            # _gather: check everything, lay out arrays
    be    = backend_for(backend, g.device)        # _backends: numpy | numba | cuda
    total, per_tensor = measure(g, be, p, group)  # chunk partials -> one fixed-order combine
    coef  = scale_to(g, be, max_norm, total, policy)  # policy, then one scaling pass
    report(total, coef, max_norm, policy, ...)    # -> ClipReport

A host backend runs ``measure`` + ``scale_to`` of a one-group global-norm clip as one call
(``be.clip_norm_``: the same steps, with no Python between the two passes); ``clip_norm`` and
the loss scaler take that road whenever no communicator needs the partials in between.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..kernels.halfbits_numpy import BF16_BITS
from . import _checks
from ._backends import ClipBackend, backend_for
from ._gather import FLAT, PER_TENSOR, Gathered, gather
from .report import ClipReport

EPS = 1e-6  # PyTorch's: coefficient = max_norm / (total_norm + 1e-6)


def prepare(parameters: Any, backend: str, *, writable: bool = True, layout: str = FLAT,
            name: str = "parameters") -> tuple[Gathered, ClipBackend]:
    """Gather (all checks, nothing written) and pick the backend."""
    if backend not in ("auto", "numpy", "numba", "cuda"):
        backend_for(backend, False)  # raises the ValueError naming the choices
    g = gather(parameters, writable=writable, layout=layout, name=name)
    be = backend_for(backend, g.device)
    if be.device and any(grp.dtype == BF16_BITS for grp in g.groups):
        raise TypeError(f"{name}: bfloat16 gradients are not supported by backend='cuda'; use "
                        "backend='auto', 'numba' or 'numpy' for host bfloat16 arrays")
    return g, be


def measure(g: Gathered, be: ClipBackend, p: float, group: Any = None,
            per_tensor: bool = False) -> tuple[Any, np.ndarray | None]:
    """(total p-norm, each gradient's norm when asked). ``group``: the total over every
    rank's gradients (an mpi4py-like communicator; identical on all ranks)."""
    parts = [be.partials(grp.planned(be), p) for grp in g.groups]
    total = be.total(parts, p, group)
    if be.device and not g.device:
        total = float(total)  # host arrays through the cuda backend: a host result
    pt = g.scatter([be.segment_norms(x, p) for x in parts]) if per_tensor else None
    return total, pt


def check_finite(total: Any, policy: str, p: float) -> None:
    """Raise ``NonFiniteNormError`` for policy "error" (reads a device total: one sync)."""
    if policy == "error":
        t = float(total)
        if not math.isfinite(t):
            raise _checks.NonFiniteNormError(
                f"the total norm of order {p} of the gradients is non-finite ({t}), so it "
                "cannot be clipped; gradients were left untouched (nonfinite='error')")


def scale_to(g: Gathered, be: ClipBackend, max_norm: float, total: Any, policy: str,
             p: float = 2.0) -> Any:
    """Apply the policy and scale every gradient by ``min(1, max_norm / (total + 1e-6))``;
    returns the coefficient used (a ``DeviceScalar`` on the device)."""
    check_finite(total, policy, p)
    pol = "propagate" if policy == "error" else policy
    coefs = [be.clip_to_(grp.planned(be), max_norm, total, EPS, pol) for grp in g.groups]
    g.write_back()
    return coefs[0] if coefs else 1.0


def report(total: Any, coef: Any, max_norm: float, policy: str,
           per_tensor: np.ndarray | None = None, skipped: bool | None = None) -> ClipReport:
    """The ``ClipReport`` of a norm clip (reads device scalars: one sync)."""
    t, c = float(total), float(coef)
    if skipped is None:
        skipped = policy == "skip" and not math.isfinite(t)
    return ClipReport(t, float(max_norm), c, bool(c != 1.0 and not skipped), bool(skipped),
                      per_tensor)


def clip_norm(parameters: Any, max_norm: float, p: float, policy: str, backend: str,
              group: Any = None, per_tensor: bool = False):
    """The global-norm clip: (total, coef, per-tensor norms or None)."""
    g, be = prepare(parameters, backend, layout=PER_TENSOR if per_tensor else FLAT)
    if fusable(g, be, group) and not per_tensor:
        total, coef = be.clip_norm_(g.groups[0].planned(be), p, max_norm, EPS, policy)
        check_finite(total, policy, p)  # "error": the kernel wrote nothing
        g.write_back()
        return total, coef, None
    total, pt = measure(g, be, p, group, per_tensor)
    return total, scale_to(g, be, max_norm, total, policy, p), pt


def fusable(g: Gathered, be: ClipBackend, group: Any) -> bool:
    """Whether the backend's one-call ``clip_norm_`` can do this clip: one group of host
    arrays and no communicator (whose combine must sit between the two passes)."""
    return be.fuses_clip and group is None and len(g.groups) == 1


def combine_norms(norms: np.ndarray, norm_type: float, axis: int = 0) -> np.ndarray | float:
    """p-norm of a vector of p-norms along ``axis`` (scaled, so huge values stay finite)."""
    norms = np.asarray(norms, np.float64)
    if norms.shape[axis] == 0:
        out = np.zeros(np.delete(norms.shape, axis))
        return float(out) if out.ndim == 0 else out
    if norm_type == math.inf:
        out = norms.max(axis)
    else:
        m = norms.max(axis, keepdims=True)
        ok = (m > 0) & np.isfinite(m)
        safe = np.where(ok, m, 1.0)
        with np.errstate(all="ignore"):
            s = np.sum((norms / safe) ** norm_type, axis, keepdims=True)
            out = np.where(ok, safe * s ** (1.0 / norm_type), m).squeeze(axis)
    return float(out) if out.ndim == 0 else out
