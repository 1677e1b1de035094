"""GradBuffer: all gradients of a parameter list in one contiguous array."""

from __future__ import annotations

from operator import attrgetter, is_
from typing import Any

import numpy as np

_grad = attrgetter("grad")


class GradBuffer:
    """One contiguous 1-D gradient buffer (``.flat``) shared by a list of parameters.

    Each parameter's ``.grad`` becomes a view (same shape) into ``.flat``, so backward passes
    that accumulate in place (``grad += g``) write straight into the buffer, and every clip
    function given a ``GradBuffer`` runs one kernel over ``.flat``. Existing gradients are
    copied in; missing ones start at zero.

    Args:
        parameters: objects with ``.data`` (ndarray) and ``.grad`` (ndarray or None), all of
            one float dtype (float32 or float64).
        dtype: buffer dtype; defaults to the parameters' dtype.

    If a parameter's ``.grad`` is later replaced (or set to None), the next clip call copies
    the new array in and re-binds ``.grad`` to its view (a None gradient counts as zero).
    """

    def __init__(self, parameters: Any, dtype: Any = None) -> None:
        params = [parameters] if hasattr(parameters, "grad") else list(parameters)
        for p in params:
            if not (hasattr(p, "grad") and isinstance(getattr(p, "data", None), np.ndarray)):
                raise TypeError(
                    "GradBuffer: parameters must be objects with .data (ndarray) and .grad; "
                    f"got {type(p).__name__}"
                )
        dtypes = {np.dtype(dtype)} if dtype is not None else {p.data.dtype for p in params}
        if len(dtypes) > 1:
            got = sorted(map(str, dtypes))
            raise TypeError(f"GradBuffer: parameters must share one dtype, got {got}")
        dt = dtypes.pop() if dtypes else np.dtype(np.float32)
        if dt not in (np.float32, np.float64):
            raise TypeError(f"GradBuffer: dtype must be float32 or float64, got {dt}")
        sizes = [p.data.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        self.flat = np.zeros(int(self.offsets[-1]), dt)
        self.params = params
        self.views = [
            self.flat[lo:hi].reshape(p.data.shape)
            for p, lo, hi in zip(params, self.offsets[:-1], self.offsets[1:], strict=True)
        ]
        for p, v in zip(params, self.views, strict=True):
            if p.grad is not None:
                v[...] = p.grad
            p.grad = v

    def sync(self) -> None:
        """Re-attach parameters whose ``.grad`` was replaced since the last call."""
        if all(map(is_, map(_grad, self.params), self.views)):
            return
        for p, v in zip(self.params, self.views, strict=True):
            g = p.grad
            if g is v:
                continue
            if g is None:
                v.fill(0)
            else:
                v[...] = g
                p.grad = v

    def zero_grad(self) -> None:
        """Zero the buffer in place (every ``.grad`` becomes a zero view again)."""
        self.flat.fill(0)
        for p, v in zip(self.params, self.views, strict=True):
            p.grad = v

    def __len__(self) -> int:
        return len(self.params)

    def __repr__(self) -> str:
        return f"GradBuffer({len(self.params)} tensors, {self.flat.size} x {self.flat.dtype})"
