"""Norm-based clipping: global (PyTorch ``clip_grad_norm_``) and per tensor."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..kernels.cuda.scalar import DeviceScalar
from . import _checks, _device
from ._grads import Gathered, gather
from .monitor import GradMonitor

EPS = 1e-6  # PyTorch's: coefficient = max_norm / (total_norm + 1e-6)


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


def norms_of(g: Gathered, p: float, be: Any, per_tensor: bool) -> tuple[float, np.ndarray | None]:
    """Total norm of gathered gradients and, if asked, each tensor's norm (input order)."""
    per_group = [be.seg_norms(arrs, p) for arrs in g.groups]
    flat = per_group[0] if len(per_group) == 1 else np.concatenate(per_group or [np.zeros(0)])
    total = float(flat[0]) if flat.size == 1 else combine_norms(flat, p)
    return total, (g.scatter(per_group) if per_tensor else None)


def scale_all(g: Gathered, be: Any, coef: float) -> None:
    """Multiply every gathered gradient by ``coef``."""
    for arrs in g.groups:
        be.seg_scale_(arrs, np.full(len(arrs), coef))
    g.write_back()


def apply_clip(
    g: Gathered, be: Any, max_norm: float, total: float, policy: str, p: float = 2.0
) -> tuple[float, bool, bool]:
    """Clip to ``max_norm`` given the ``total`` norm; returns (coef, clipped, skipped)."""
    if not math.isfinite(total) and policy != "propagate":
        if policy == "error":
            raise _checks.NonFiniteNormError(
                f"the total norm of order {p} of the gradients is non-finite ({total}), so it "
                "cannot be clipped; gradients were left untouched (nonfinite='error')"
            )
        if policy == "skip":
            return 1.0, False, True
        for arrs in g.groups:  # "zero"
            be.seg_fill_(arrs, 0.0)
        g.write_back()
        return 0.0, True, False
    coef = max_norm / (total + EPS)  # total >= 0: never a division by zero
    if coef < 1.0 or coef != coef:  # NaN propagates, as in PyTorch
        scale_all(g, be, coef)
        return coef, True, False
    return 1.0, False, False


def get_total_norm(
    grads: Any,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    *,
    backend: str = "auto",
) -> float | DeviceScalar:
    """Global p-norm of all gradients taken as one vector (the first half of clip_grad_norm_).

    ``grads``: arrays of any shape, objects with ``.grad``, or a ``GradBuffer``. Empty → 0.0.
    Device gradients give a ``DeviceScalar`` (``float(x)`` reads it; see ``clip_grad_norm_``).
    """
    p = _checks.norm_type(norm_type)
    g = gather(grads, writable=False, name="grads")
    be = _device.backend_for(backend, g.device)
    if g.device:
        dtotal = _device.total_norm(g.groups, p, be)
        if error_if_nonfinite and not math.isfinite(float(dtotal)):
            raise _checks.NonFiniteNormError(f"the total norm of order {p} is non-finite")
        return dtotal
    total, _ = norms_of(g, p, be, False)
    if error_if_nonfinite and not math.isfinite(total):
        raise _checks.NonFiniteNormError(f"the total norm of order {p} is non-finite ({total})")
    return total


def clip_grads_with_norm_(
    parameters: Any, max_norm: float, total_norm: float | DeviceScalar, *, backend: str = "auto"
) -> None:
    """Scale gradients by ``min(1, max_norm / (total_norm + 1e-6))`` (the second half).
    For device gradients a ``DeviceScalar`` total is read by the kernel (no host sync)."""
    max_norm = _checks.threshold("max_norm", max_norm)
    g = gather(parameters, writable=True)
    be = _device.backend_for(backend, g.device)
    if g.device:
        be.clip_with_norm_([a for grp in g.groups for a in grp], max_norm, total_norm, EPS)
        return
    apply_clip(g, be, max_norm, float(total_norm), "propagate")


def clip_grad_norm_(
    parameters: Any,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    nonfinite: str | None = None,
    *,
    backend: str = "auto",
    monitor: GradMonitor | None = None,
) -> float | DeviceScalar:
    """Clip the global p-norm of all gradients to ``max_norm`` in place (PyTorch semantics).

    All gradients form one vector; they are scaled by ``min(1, max_norm / (total + 1e-6))``.
    ``nonfinite`` picks what happens when the total norm is inf/NaN: ``"propagate"`` (default,
    IEEE arithmetic as PyTorch), ``"error"`` (raise, untouched; ``error_if_nonfinite=True``),
    ``"skip"`` (untouched) or ``"zero"``. Returns the total norm before clipping.

    Device gradients (CuPy, PyTorch CUDA, numba arrays, a ``GradBuffer(device="cuda")``) are
    clipped on the GPU with no host synchronisation: the norm stays in device memory, the scale
    kernel reads it there, and a ``DeviceScalar`` is returned (``float(x)`` / ``x.item()``
    waits for the GPU and gives the float). ``nonfinite="error"`` and a ``monitor`` read it.
    """
    max_norm = _checks.threshold("max_norm", max_norm)
    p = _checks.norm_type(norm_type)
    policy = _checks.nonfinite_policy(nonfinite, error_if_nonfinite)
    per_tensor = monitor is not None and monitor.wants_per_tensor
    g = gather(parameters, writable=True, per_tensor=per_tensor)
    be = _device.backend_for(backend, g.device)
    if g.device:
        dtotal, coef = _device.clip_norm(g.groups, be, max_norm, p, policy, EPS)
        if monitor is not None:
            pt = g.scatter([be.seg_norms(a, p) for a in g.groups]) if per_tensor else None
            _device.record(monitor, dtotal, coef, policy, max_norm, pt)
        return dtotal
    total, pt = norms_of(g, p, be, per_tensor)
    coef, clipped, skipped = apply_clip(g, be, max_norm, total, policy, p)
    if monitor is not None:
        monitor.record(total, coef, clipped, skipped, max_norm, pt)
    return total


def clip_grad_norm_per_tensor_(
    parameters: Any,
    max_norm: float,
    norm_type: float = 2.0,
    nonfinite: str | None = None,
    *,
    backend: str = "auto",
    monitor: GradMonitor | None = None,
) -> np.ndarray:
    """Clip each gradient to its own p-norm ``max_norm`` (``tf.clip_by_norm``, Keras
    ``clipnorm``): ``g *= min(1, max_norm / (||g|| + 1e-6))``. The ``nonfinite`` policy applies
    per tensor. Returns each tensor's norm before clipping, float64 of shape (n_tensors,).
    """
    max_norm = _checks.threshold("max_norm", max_norm)
    p = _checks.norm_type(norm_type)
    policy = _checks.nonfinite_policy(nonfinite, False)
    g = gather(parameters, writable=True, per_tensor=True)
    be = _device.backend_for(backend, g.device)
    per_group = [be.seg_norms(arrs, p) for arrs in g.groups]
    bad = [~np.isfinite(n) for n in per_group]
    if policy == "error" and any(b.any() for b in bad):
        raise _checks.NonFiniteNormError(
            f"{sum(int(b.sum()) for b in bad)} gradient(s) have a non-finite norm of order {p}; "
            "gradients were left untouched (nonfinite='error')"
        )
    coefs_all = []
    for arrs, norms, b in zip(g.groups, per_group, bad, strict=True):
        with np.errstate(all="ignore"):
            coefs = np.minimum(1.0, max_norm / (norms + EPS))
        coefs[np.isnan(norms)] = np.nan  # NaN propagates, as in the global version
        if policy in ("skip", "zero"):
            coefs[b] = 1.0
        be.seg_scale_(arrs, coefs)
        if policy == "zero" and b.any():
            be.seg_fill_([a for a, z in zip(arrs, b, strict=True) if z], 0.0)
            coefs[b] = 0.0
        coefs_all.append(coefs)
    g.write_back()
    norms = g.scatter(per_group)
    if monitor is not None:
        coefs = g.scatter(coefs_all)
        total = combine_norms(norms, p)
        monitor.record(
            total,
            float(coefs.min()) if coefs.size else 1.0,
            bool((coefs != 1.0).any()),
            False,
            max_norm,
            norms,
        )
    return norms
