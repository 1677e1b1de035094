"""Norm-based clipping: global (PyTorch ``clip_grad_norm_``: ``ClipGradNorm``) and per tensor
(``ClipGradNormPerTensor``), and the two halves of the global clip (``get_total_norm``,
``clip_grads_with_norm_``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _checks
from ._agree import CLIP_GRAD_NORM, Agreement, relay
from ._backends import EPS, DeviceScalar, NonFinite, clip_coefficient, held_back
from ._gather import Layout
from ._pipeline import (
    NonFiniteNormError,
    check_finite,
    clip_norm,
    combine_norms,
    measure,
    norm_report,
    prepare,
    scale_to,
)
from .clipper import Clipper
from .monitor import GradMonitor
from .report import ClipReport

__all__ = ["ClipGradNorm", "ClipGradNormPerTensor", "clip_grad_norm_",
           "clip_grad_norm_per_tensor_", "clip_grads_with_norm_", "get_total_norm"]


class ClipGradNorm(Clipper):
    """Clip the global p-norm of all gradients to ``max_norm`` (``clip_grad_norm_``).

    ``nonfinite``: what an inf/NaN total does, one of ``NONFINITE_POLICIES`` (None:
    "propagate"). With a ``group``, every rank's clipper must have the same settings (checked
    with the exchange, as for ``clip_grad_norm_``)."""

    def __init__(self, max_norm: float, norm_type: float = 2.0,
                 nonfinite: str | NonFinite | None = None, backend: str = "auto",
                 monitor: GradMonitor | None = None, group: Any = None) -> None:
        self.max_norm, self.norm_type, self.nonfinite = _checks.norm_args(
            max_norm, norm_type, nonfinite)
        self.backend, self.monitor, self.group = backend, monitor, group

    def _apply(self, parameters: Any) -> tuple[Any, Any, np.ndarray | None]:
        """Clip in place: (total norm before clipping, coefficient, per-tensor norms when the
        monitor wants them); device totals stay on the device (``DeviceScalar``)."""
        group = self.group
        if group is not None:
            group = Agreement(group, CLIP_GRAD_NORM, **self._settings())
        per_tensor = self.monitor is not None and self.monitor.wants_per_tensor
        try:
            return clip_norm(parameters, self.max_norm, self.norm_type, self.nonfinite,
                             self.backend, group, per_tensor)
        except Exception as exc:
            relay(group, CLIP_GRAD_NORM, exc)  # the other ranks raise too, not wait
            raise

    def _clip(self, parameters: Any) -> ClipReport:
        total, coef, per_tensor = self._apply(parameters)
        return norm_report(total, coef, self.max_norm, self.nonfinite, per_tensor)

    @staticmethod
    def _total_norm(grads: Any, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   backend: str = "auto", group: Any = None) -> np.float64 | DeviceScalar:
        """The first half of the clip: the global p-norm (see ``get_total_norm``)."""
        try:
            p = _checks.norm_type(norm_type)
            if group is not None:
                group = Agreement(group, "get_total_norm", norm_type=p,
                                  error_if_nonfinite=bool(error_if_nonfinite))
            g, be = prepare(grads, backend, writable=False, name="grads")
            total, _ = measure(g, be, p, group)
        except Exception as exc:
            relay(group, "get_total_norm", exc)  # the other ranks raise too, not wait
            raise
        if error_if_nonfinite:
            check_finite(total, NonFinite.ERROR, p)
        return total if isinstance(total, DeviceScalar) else np.float64(total)

    @staticmethod
    def _scale_by(parameters: Any, max_norm: float, total_norm: float | DeviceScalar,
                 backend: str = "auto") -> None:
        """The second half: scale by the clip coefficient of a known total norm (see
        ``clip_grads_with_norm_``)."""
        max_norm = _checks.THRESHOLD(max_norm, "max_norm")
        total_norm = _checks.total_norm(total_norm)
        g, be = prepare(parameters, backend)
        scale_to(g, be, max_norm, total_norm, NonFinite.PROPAGATE)

    def _settings(self) -> dict[str, Any]:
        """What every rank of ``group`` must agree on."""
        return {"max_norm": self.max_norm, "norm_type": self.norm_type,
                "nonfinite": self.nonfinite.name.lower()}


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
        if error_if_nonfinite:  # PyTorch's spelling of nonfinite="error"
            nonfinite = _checks.nonfinite_policy(nonfinite, error_if_nonfinite)
        clipper = ClipGradNorm(max_norm, norm_type, nonfinite, backend, monitor, group)
    except Exception as exc:
        relay(group, CLIP_GRAD_NORM, exc)  # the other ranks raise too, not wait
        raise
    total, coef, per_tensor = clipper._apply(parameters)
    if monitor is not None:
        monitor.record(norm_report(total, coef, clipper.max_norm, clipper.nonfinite, per_tensor))
    return total


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
    return ClipGradNorm._total_norm(grads, norm_type, error_if_nonfinite, backend, group)


def clip_grads_with_norm_(
    parameters: Any, max_norm: float, total_norm: float | DeviceScalar,
    foreach: bool | None = None, *, backend: str = "auto"
) -> None:
    """Scale gradients by ``min(1, max_norm / (total_norm + 1e-6))`` (the second half).
    ``total_norm``: a number >= 0 or inf (NaN propagates, as in PyTorch); a negative one raises
    (it would flip the gradients' sign). For device gradients a ``DeviceScalar`` total is read
    by the kernel (no host sync), so it is not checked.
    ``foreach``: PyTorch's, accepted and meaningless here."""
    ClipGradNorm._scale_by(parameters, max_norm, total_norm, backend)


class ClipGradNormPerTensor(Clipper):
    """Clip each gradient to its own p-norm ``max_norm`` (``clip_grad_norm_per_tensor_``,
    ``tf.clip_by_norm``, Keras ``clipnorm``); the ``nonfinite`` policy applies per tensor. The
    report's ``per_tensor_norms`` are the norms before clipping and ``coef`` the smallest
    coefficient used."""

    def __init__(self, max_norm: float, norm_type: float = 2.0,
                 nonfinite: str | NonFinite | None = None, backend: str = "auto",
                 monitor: GradMonitor | None = None) -> None:
        self.max_norm, self.norm_type, self.nonfinite = _checks.norm_args(
            max_norm, norm_type, nonfinite)
        self.backend, self.monitor = backend, monitor

    def _clip(self, parameters: Any) -> ClipReport:
        p, policy, max_norm = self.norm_type, self.nonfinite, self.max_norm
        g, be = prepare(parameters, self.backend, layout=Layout.PER_TENSOR)
        parts = [be.partials(be.planned(grp), p) for grp in g.groups]
        per_group = [be.segment_norms(x, p) for x in parts]
        bad = [~np.isfinite(n) for n in per_group]
        if policy is NonFinite.ERROR and any(b.any() for b in bad):
            raise NonFiniteNormError(
                f"{sum(int(b.sum()) for b in bad)} gradient(s) have a non-finite norm of order "
                f"{p}; gradients were left untouched (nonfinite='error')")
        coefs_all = []
        for grp, norms in zip(g.groups, per_group, strict=True):
            norms_list = norms.tolist()
            coefs = np.array([clip_coefficient(n, max_norm, EPS, policy) for n in norms_list])
            held = np.array([held_back(n, policy) for n in norms_list], bool)
            be.scale_(be.planned(grp), np.where(held, 1.0, coefs))
            if policy is NonFinite.ZERO and held.any():
                be.fill_([a for a, z in zip(grp.arrays, held, strict=True) if z], 0.0)
            coefs_all.append(coefs)
        if g.copies:
            g.write_back()
        norms = g.scatter(per_group)
        coefs = g.scatter(coefs_all)
        return ClipReport(total_norm=combine_norms(norms, p), max_norm=max_norm,
                          coef=float(coefs.min()) if coefs.size else 1.0,
                          clipped=bool((coefs != 1.0).any()), per_tensor_norms=norms)


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
    return ClipGradNormPerTensor(max_norm, norm_type, nonfinite, backend,
                                 monitor)(parameters).per_tensor_norms
