"""GradBuffer: all gradients of a parameter list in one contiguous array."""

from __future__ import annotations

from operator import attrgetter, is_
from typing import Any

import numpy as np

from ._backends import copy_to_device, device_fill, device_zeros

_grad = attrgetter("grad")


class GradBuffer:
    """One contiguous 1-D gradient buffer (``.flat``) shared by a list of parameters.

    Each parameter's ``.grad`` becomes a view (same shape) into ``.flat``, so backward passes
    that accumulate in place (``grad += g``) write straight into the buffer, and every clip
    function given a ``GradBuffer`` runs one kernel over ``.flat``. Existing gradients are
    copied in; missing ones start at zero.

    Parameters
    ----------
    parameters
        Objects with ``.data`` (ndarray) and ``.grad`` (ndarray or None), all of
        one float dtype (float32 or float64).
    dtype
        Buffer dtype; defaults to the parameters' dtype.
    device
        None (host memory) or ``"cuda"``: ``.flat`` is then a numba device array and
        each ``.grad`` a device view, so ``backend="cuda"`` clips the whole model in one
        launch per pass (gradients given as host arrays are copied over once). With
        ``device="cuda"``, ``.data`` only needs a ``.shape`` (and ``.dtype``, or pass
        ``dtype``).

    If a parameter's ``.grad`` is later replaced (or set to None), the next clip call copies
    the new array in and re-binds ``.grad`` to its view (a None gradient counts as zero).
    """

    def __init__(self, parameters: Any, dtype: Any = None, device: str | None = None) -> None:
        if device not in (None, "cuda"):
            raise ValueError(f"GradBuffer: device must be None or 'cuda', got {device!r}")
        self.device = device
        params = [parameters] if hasattr(parameters, "grad") else list(parameters)
        ok = (lambda d: hasattr(d, "shape")) if device else (lambda d: isinstance(d, np.ndarray))
        for p in params:
            if not (hasattr(p, "grad") and ok(getattr(p, "data", None))):
                raise TypeError(
                    "GradBuffer: parameters must be objects with .data (ndarray) and .grad; "
                    f"got {type(p).__name__}"
                )
        dtypes = {np.dtype(dtype)} if dtype is not None else {_dtype(p.data) for p in params}
        if len(dtypes) > 1:
            got = sorted(map(str, dtypes))
            raise TypeError(f"GradBuffer: parameters must share one dtype, got {got}")
        dt = dtypes.pop() if dtypes else np.dtype(np.float32)
        if dt not in (np.float32, np.float64):
            raise TypeError(f"GradBuffer: dtype must be float32 or float64, got {dt}")
        for i, p in enumerate(params):  # every check before any .grad is rebound
            _check_grad(p, i)
        sizes = [int(np.prod(p.data.shape, dtype=np.int64)) for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        n = int(self.offsets[-1])
        self.flat = device_zeros(n, dt) if device else np.zeros(n, dt)
        self.params = params
        self.views = [
            self.flat[lo:hi].reshape(tuple(p.data.shape))
            for p, lo, hi in zip(params, self.offsets[:-1], self.offsets[1:], strict=True)
        ]
        for p, v in zip(params, self.views, strict=True):
            if p.grad is not None:
                self._copy_in(v, p.grad)
            p.grad = v

    def _copy_in(self, view: Any, g: Any) -> None:
        if self.device:
            copy_to_device(view, g)
        else:
            view[...] = g

    def sync(self) -> None:
        """Re-attach parameters whose ``.grad`` was replaced since the last call (all are
        checked before any is copied)."""
        if all(map(is_, map(_grad, self.params), self.views)):
            return
        for i, (p, v) in enumerate(zip(self.params, self.views, strict=True)):
            if p.grad is not v:
                _check_grad(p, i)
        for p, v in zip(self.params, self.views, strict=True):
            g = p.grad
            if g is v:
                continue
            if g is None:
                device_fill(v, 0.0) if self.device else v.fill(0)
            else:
                self._copy_in(v, g)
                p.grad = v

    def zero_grad(self) -> None:
        """Zero the buffer in place (every ``.grad`` becomes a zero view again)."""
        device_fill(self.flat, 0.0) if self.device else self.flat.fill(0)
        for p, v in zip(self.params, self.views, strict=True):
            p.grad = v

    def __len__(self) -> int:
        return len(self.params)

    def __repr__(self) -> str:
        on = f", device={self.device!r}" if self.device else ""
        return f"GradBuffer({len(self.params)} tensors, {self.flat.size} x {self.flat.dtype}{on})"


def _check_grad(p: Any, i: int) -> None:
    """A gradient to copy in must have exactly the parameter's shape (no broadcasting)."""
    g = p.grad
    if g is None:
        return
    gs, ds = tuple(getattr(g, "shape", ())), tuple(p.data.shape)
    if gs != ds:
        raise ValueError(f"GradBuffer: parameter {i} has shape {ds} but its .grad has shape "
                         f"{gs}; the gradient must have the parameter's shape")


def _dtype(data: Any) -> np.dtype:
    """numpy dtype of a parameter's data (numpy, CuPy, or a torch dtype such as torch.float32)."""
    try:
        return np.dtype(data.dtype)
    except TypeError:
        return np.dtype(str(data.dtype).rsplit(".", 1)[-1])
