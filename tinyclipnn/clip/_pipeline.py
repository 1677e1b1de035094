"""The steps every clip method is built from, and the backends that run them:

    g     = gather(parameters, layout)            # _gather: check everything, lay out arrays
    be    = backend_for(backend, g.device)        # numpy | numba | cuda (a ClipBackend)
    total, per_tensor = measure(g, be, p, group)  # chunk partials -> one fixed-order combine
    coef  = scale_to(g, be, max_norm, total, policy)  # the clip decision, one scaling pass

A host backend runs ``measure`` + ``scale_to`` of a one-group global-norm clip as one call
(``be.clip_norm_``: the same steps, with no Python between the two passes); ``clip_norm`` and
the loss scaler take that road whenever no communicator needs the partials in between.
The coefficient and the non-finite policy are ``kernels.clip_decision``'s, for every backend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from ._backends import (
    BACKENDS,
    BF16_BITS,
    EPS,
    DeviceScalar,
    NonFinite,
    get_backend,
    reference,
)
from ._gather import Gathered, Group, Layout, gather
from .report import ClipReport


class NonFiniteNormError(RuntimeError):
    """The total gradient norm is inf or NaN and the policy is ``nonfinite="error"``."""


class ClipBackend(Protocol):
    """What the clip steps need from a backend (arrays: one gather group, or its plan)."""

    name: str
    device: bool
    fuses_clip: bool  # whether clip_norm_() exists (host backends)

    def planned(self, group: Group) -> Any: ...
    def partials(self, arrays: Sequence[Any], p: float) -> Any: ...
    def segment_norms(self, partials: Any, p: float) -> np.ndarray: ...
    def total(self, partials: list[Any], p: float, group: Any = None) -> Any: ...
    def clip_to_(self, arrays: Sequence[Any], max_norm: float, total: Any, eps: float,
                 policy: NonFinite) -> Any: ...
    def clip_norm_(self, arrays: Sequence[Any], p: float, max_norm: float, eps: float,
                   policy: NonFinite, unscale: float = 1.0) -> tuple[float, float]: ...
    def scale_(self, arrays: Sequence[Any], coefs: np.ndarray) -> None: ...
    def clamp_(self, arrays: Sequence[Any], clip_value: float) -> int: ...
    def fill_(self, arrays: Sequence[Any], value: float) -> None: ...
    def row_norms(self, x2d: Any, p: float = 2.0) -> np.ndarray: ...
    def row_scale_(self, x2d: Any, coefs: np.ndarray) -> None: ...
    def col_sum(self, x2d: Any) -> Any: ...


def allgather_partials(sums: np.ndarray, scales: np.ndarray, group: Any):
    """Every rank's (sums, scales), concatenated in rank order (``group.allgather`` only)."""
    parts = group.allgather((np.asarray(sums, np.float64), np.asarray(scales, np.float64)))
    return (np.concatenate([np.asarray(s, np.float64) for s, _ in parts]),
            np.concatenate([np.asarray(c, np.float64) for _, c in parts]))


class _Backend:
    """What every backend takes from its kernel module as is."""

    def __init__(self, kernels: ModuleType) -> None:
        self.kernels = kernels
        self.scale_, self.clamp_, self.fill_ = kernels.seg_scale_, kernels.seg_clamp_, \
            kernels.seg_fill_
        self.row_norms, self.row_scale_ = kernels.row_norms, kernels.row_scale_
        self.col_sum = kernels.col_sum

    def planned(self, group: Group) -> Any:
        """What every kernel call of one clip gets: the group's arrays (plans: see
        ``HostBackend``)."""
        return group.arrays


class HostBackend(_Backend):
    """numpy or Numba kernels over host memory; partials and totals are host float64. The
    Numba kernels take a plan (``plan(arrays)``: the segment table of a group, addresses and
    work items) in place of the list, made once per group and kept with a cached gather."""

    device = False
    fuses_clip = True

    def __init__(self, kernels: ModuleType, name: str) -> None:
        super().__init__(kernels)
        self.name = name
        self.clip_norm_ = kernels.seg_clip_norm_
        self.partials = kernels.seg_partials
        self.plan = getattr(kernels, "plan", None)

    def planned(self, group: Group) -> Any:
        if self.plan is None:
            return group.arrays
        plan = group.plans.get(self.name)
        if plan is None:
            plan = group.plans[self.name] = self.plan(group.arrays)
        return plan

    def segment_norms(self, partials: Any, p: float) -> np.ndarray:
        return reference.segment_norms(partials, p)

    def total(self, partials: list[Any], p: float, group: Any = None) -> float:
        if len(partials) == 1:
            sums, scales, _ = partials[0]
        else:
            sums = np.concatenate([s for s, _, _ in partials] or [np.zeros(0)])
            scales = np.concatenate([c for _, c, _ in partials] or [np.zeros(0)])
        if group is not None:
            sums, scales = allgather_partials(sums, scales, group)
        return reference.combine_partials(sums, scales, p)

    def clip_to_(self, arrays: Sequence[Any], max_norm: float, total: Any, eps: float,
                 policy: NonFinite) -> float:
        return reference.clip_with_norm_(arrays, max_norm, float(total), eps, policy,
                                         scale_=self.scale_, fill_=self.fill_)


class CudaBackend(_Backend):
    """numba.cuda kernels; partials are device vectors of norms and the total stays on the
    device (a ``DeviceScalar``) unless ``group=`` needs it on the host."""

    device = True
    name = "cuda"
    fuses_clip = False

    def partials(self, arrays: Sequence[Any], p: float) -> Any:
        return self.kernels.seg_norms_device(arrays, p)

    def segment_norms(self, partials: Any, p: float) -> np.ndarray:
        return partials.copy_to_host()

    def total(self, partials: list[Any], p: float, group: Any = None) -> Any:
        if group is None:
            vecs = partials or [self.kernels.cuda.device_array(0, np.float64)]
            return self.kernels.combine_norms_device(vecs, p)
        norms = np.concatenate([v.copy_to_host() for v in partials] or [np.zeros(0)])
        # a norm n as a scaled partial (sum 1, scale n); zero norms as plain zeros
        sums, scales = (norms != 0).astype(np.float64), norms
        return reference.combine_partials(*allgather_partials(sums, scales, group), p)

    def clip_to_(self, arrays: Sequence[Any], max_norm: float, total: Any, eps: float,
                 policy: NonFinite) -> Any:
        return self.kernels.clip_with_norm_(list(arrays), max_norm, total, eps, policy)


_objects: dict[tuple[str, bool], ClipBackend] = {}


def backend_for(name: str, device: bool) -> ClipBackend:
    """The backend object for a call: device gradients need (and "auto" picks) ``cuda``."""
    be = _objects.get((name, device))
    if be is not None:
        return be
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    if device and name not in ("auto", "cuda"):
        raise ValueError(f"backend={name!r} works on host memory; device gradients need "
                         "backend='cuda' (or 'auto')")
    kernels = get_backend("cuda" if device else name)
    if kernels.__name__.endswith("cuda.clip"):
        be = CudaBackend(kernels)
    else:
        be = HostBackend(kernels, "numpy" if kernels is reference else "numba")
    _objects[name, device] = be
    return be


def prepare(parameters: Any, backend: str, *, writable: bool = True,
            layout: Layout = Layout.FLAT, name: str = "parameters") -> tuple[Gathered, Any]:
    """Gather (all checks, nothing written) and pick the backend."""
    if backend not in BACKENDS:
        backend_for(backend, False)  # raises the ValueError naming the choices
    g = gather(parameters, writable=writable, layout=layout, name=name)
    be = _objects.get((backend, g.device)) or backend_for(backend, g.device)
    if be.device and any(grp.dtype == BF16_BITS for grp in g.groups):
        raise TypeError(f"{name}: bfloat16 gradients are not supported by backend='cuda'; use "
                        "backend='auto', 'numba' or 'numpy' for host bfloat16 arrays")
    return g, be


def measure(g: Gathered, be: ClipBackend, p: float, group: Any = None,
            per_tensor: bool = False) -> tuple[Any, np.ndarray | None]:
    """(total p-norm, each gradient's norm when asked). ``group``: the total over every
    rank's gradients (an mpi4py-like communicator; identical on all ranks)."""
    parts = [be.partials(be.planned(grp), p) for grp in g.groups]
    total = be.total(parts, p, group)
    if be.device and not g.device:
        total = float(total)  # host arrays through the cuda backend: a host result
    pt = g.scatter([be.segment_norms(x, p) for x in parts]) if per_tensor else None
    return total, pt


def check_finite(total: Any, policy: NonFinite, p: float) -> None:
    """Raise ``NonFiniteNormError`` for policy ERROR (reads a device total: one sync)."""
    if policy is NonFinite.ERROR:
        t = float(total)
        if not math.isfinite(t):
            raise NonFiniteNormError(
                f"the total norm of order {p} of the gradients is non-finite ({t}), so it "
                "cannot be clipped; gradients were left untouched (nonfinite='error')")


def scale_to(g: Gathered, be: ClipBackend, max_norm: float, total: Any, policy: NonFinite,
             p: float = 2.0) -> Any:
    """Apply the policy and scale every gradient by the clip coefficient; returns the
    coefficient used (a ``DeviceScalar`` on the device)."""
    check_finite(total, policy, p)
    coefs = [be.clip_to_(be.planned(grp), max_norm, total, EPS, policy) for grp in g.groups]
    if g.copies:
        g.write_back()
    return coefs[0] if coefs else 1.0


def norm_report(total: Any, coef: Any, max_norm: float, policy: NonFinite,
                per_tensor: np.ndarray | None = None) -> ClipReport:
    """The ``ClipReport`` of a norm clip (reads device scalars: one sync)."""
    t, c = float(total), float(coef)
    skipped = policy is NonFinite.SKIP and not math.isfinite(t)
    return ClipReport(total_norm=t, max_norm=float(max_norm), coef=c,
                      clipped=c != 1.0 and not skipped, skipped=skipped,
                      per_tensor_norms=per_tensor)


def clip_norm(parameters: Any, max_norm: float, p: float, policy: NonFinite, backend: str,
              group: Any = None, per_tensor: bool = False) -> tuple[Any, Any, Any]:
    """The global-norm clip: (total, coef, per-tensor norms or None); a host total is a
    ``numpy.float64``."""
    g, be = prepare(parameters, backend,
                    layout=Layout.PER_TENSOR if per_tensor else Layout.FLAT)
    if fusable(g, be, group) and not per_tensor:
        total, coef = be.clip_norm_(be.planned(g.groups[0]), p, max_norm, EPS, policy)
        check_finite(total, policy, p)  # ERROR: the kernel wrote nothing
        if g.copies:
            g.write_back()
        return np.float64(total), coef, None
    total, pt = measure(g, be, p, group, per_tensor)
    coef = scale_to(g, be, max_norm, total, policy, p)
    return (total if isinstance(total, DeviceScalar) else np.float64(total)), coef, pt


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
