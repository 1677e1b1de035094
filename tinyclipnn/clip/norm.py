"""Norm-based clipping: global (PyTorch ``clip_grad_norm_``) and per tensor."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..kernels.cuda.scalar import DeviceScalar
from . import _checks
from ._agree import CLIP_GRAD_NORM, Agreement, relay
from ._gather import PER_TENSOR
from ._pipeline import (
    EPS,
    check_finite,
    clip_norm,
    combine_norms,
    measure,
    prepare,
    report,
    scale_to,
)
from .monitor import GradMonitor
from .report import ClipReport, as_norm

__all__ = ["EPS", "clip_grad_norm_", "clip_grad_norm_per_tensor_", "clip_grads_with_norm_",
           "combine_norms", "get_total_norm"]


def get_total_norm(
    grads: Any,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
    *,
    backend: str = "auto",
    group: Any = None,
) -> np.float64 | DeviceScalar:
    """Global p-norm of all gradients taken as one vector (the first half of
    ``clip_grad_norm_``).
    Returned as ``numpy.float64`` (``float(n)`` and ``n.item()`` both work). ``foreach`` is
    PyTorch's and means nothing here (every backend reads all gradients in one pass).

    ``grads``: arrays of any shape, objects with ``.grad``, or a ``GradBuffer``. Empty -> 0.0.
    ``group``: an mpi4py-like communicator; ``grads`` are this rank's shard and the result is
    the norm over all ranks (bit-identical to one process for shards aligned to
    ``SHARD_ALIGN`` elements); every rank must pass the same ``norm_type`` and
    ``error_if_nonfinite`` (else all raise the same ``ValueError``). Device gradients give a
    ``DeviceScalar`` (``float(x)`` reads it).
    """
    try:
        p = _checks.norm_type(norm_type)
        if group is not None:
            group = Agreement(group, "get_total_norm", norm_type=p,
                              error_if_nonfinite=bool(error_if_nonfinite))
        g, be = prepare(grads, backend, writable=False, name="grads")
        total, _ = measure(g, be, p, group)
    except Exception as exc:
        relay(group, "get_total_norm", exc)  # the other ranks raise too, not wait for this one
        raise
    if error_if_nonfinite:
        check_finite(total, "error", p)
    return as_norm(total)


def clip_grads_with_norm_(
    parameters: Any, max_norm: float, total_norm: float | DeviceScalar,
    foreach: bool | None = None, *, backend: str = "auto"
) -> None:
    """Scale gradients by ``min(1, max_norm / (total_norm + 1e-6))`` (the second half).
    ``total_norm``: a number >= 0 or inf (NaN propagates, as in PyTorch); a negative one raises
    (it would flip the gradients' sign). For device gradients a ``DeviceScalar`` total is read
    by the kernel (no host sync), so it is not checked.
    ``foreach``: PyTorch's, accepted and meaningless here."""
    max_norm = _checks.threshold("max_norm", max_norm)
    total_norm = _checks.total_norm(total_norm)
    g, be = prepare(parameters, backend)
    scale_to(g, be, max_norm, total_norm, "propagate")


def clip_grad_norm_(
    parameters: Any,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
    *,
    nonfinite: str | None = None,
    backend: str = "auto",
    monitor: GradMonitor | None = None,
    group: Any = None,
) -> np.float64 | DeviceScalar:
    """Clip the global p-norm of all gradients to ``max_norm`` in place (PyTorch semantics).

    All gradients form one vector; they are scaled by ``min(1, max_norm / (total + 1e-6))``.
    ``nonfinite`` picks what happens when the total norm is inf/NaN: ``"propagate"`` (default,
    IEEE arithmetic as PyTorch), ``"error"`` (raise, untouched; ``error_if_nonfinite=True``),
    ``"skip"`` (untouched) or ``"zero"``. Returns the total norm before clipping, as
    ``numpy.float64`` (``float(n)`` and ``n.item()`` both work). The arguments up to
    ``foreach`` are PyTorch's, in its order; ``foreach`` means nothing here (every backend
    clips all gradients in one pass).
    ``group``: an mpi4py-like communicator for sharded gradients (see ``get_total_norm``);
    every rank must pass the same ``max_norm``, ``norm_type`` and policy (checked with the
    exchange: all ranks raise the same ``ValueError`` otherwise, before anything is changed).

    Device gradients (CuPy, PyTorch CUDA, numba arrays, a ``GradBuffer(device="cuda")``) are
    clipped on the GPU with no host synchronisation: the norm stays in device memory, the scale
    kernel reads it there, and a ``DeviceScalar`` is returned (``float(x)`` / ``x.item()``
    waits for the GPU and gives the float). ``nonfinite="error"`` and a ``monitor`` read it.
    """
    try:
        max_norm = _checks.threshold("max_norm", max_norm)
        p = _checks.norm_type(norm_type)
        policy = _checks.nonfinite_policy(nonfinite, error_if_nonfinite)
        if group is not None:
            group = Agreement(group, CLIP_GRAD_NORM, max_norm=max_norm, norm_type=p,
                              nonfinite=policy)
        per_tensor = monitor is not None and monitor.wants_per_tensor
        total, coef, pt = clip_norm(parameters, max_norm, p, policy, backend, group, per_tensor)
    except Exception as exc:
        relay(group, CLIP_GRAD_NORM, exc)  # the other ranks raise too, not wait for this one
        raise
    if monitor is not None:
        monitor.record(report(total, coef, max_norm, policy, pt))
    return as_norm(total)


def clip_norm_per_tensor(parameters: Any, max_norm: float, p: float, policy: str,
                         backend: str) -> ClipReport:
    """Each gradient clipped to its own p-norm; the report's ``per_tensor_norms`` are the
    norms before clipping and ``coef`` the smallest coefficient used."""
    g, be = prepare(parameters, backend, layout=PER_TENSOR)
    parts = [be.partials(grp.planned(be), p) for grp in g.groups]
    per_group = [be.segment_norms(x, p) for x in parts]
    bad = [~np.isfinite(n) for n in per_group]
    if policy == "error" and any(b.any() for b in bad):
        raise _checks.NonFiniteNormError(
            f"{sum(int(b.sum()) for b in bad)} gradient(s) have a non-finite norm of order {p}; "
            "gradients were left untouched (nonfinite='error')")
    coefs_all = []
    for grp, norms, b in zip(g.groups, per_group, bad, strict=True):
        with np.errstate(all="ignore"):
            coefs = np.minimum(1.0, max_norm / (norms + EPS))
        coefs[np.isnan(norms)] = np.nan  # NaN propagates, as in the global version
        if policy in ("skip", "zero"):
            coefs[b] = 1.0
        be.scale_(grp.planned(be), coefs)
        if policy == "zero" and b.any():
            be.fill_([a for a, z in zip(grp.arrays, b, strict=True) if z], 0.0)
            coefs[b] = 0.0
        coefs_all.append(coefs)
    g.write_back()
    norms = g.scatter(per_group)
    coefs = g.scatter(coefs_all)
    total = combine_norms(norms, p)
    return ClipReport(float(total), max_norm, float(coefs.min()) if coefs.size else 1.0,
                      bool((coefs != 1.0).any()), False, norms)


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
    rep = clip_norm_per_tensor(parameters, max_norm, p, policy, backend)
    if monitor is not None:
        monitor.record(rep)
    return rep.per_tensor_norms
