"""`gradcheck`: compare backward's gradients with float64 central differences."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .grad_mode import no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Raised by `gradcheck` when an analytic gradient disagrees with finite differences."""


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Tensor] | Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check ``fn``'s gradients w.r.t. every float64 input that requires grad.

    A non-scalar output is reduced with a fixed random weighting ``sum(out * v)`` (a
    vector-Jacobian product), so one backward pass checks every input entry.

    Returns True, or raises `GradcheckError` naming the input and the worst entry
    (returns False instead when ``raise_exception=False``).
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad and x.dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} has dtype {x.dtype}; use float64 inputs")
    out = fn(*inputs)
    v = np.random.default_rng(seed).standard_normal(out.shape)

    def scalar(o: Tensor) -> float:
        return float(np.sum(o.data * v))

    for x in inputs:
        if isinstance(x, Tensor):
            x.grad = None
    (out * Tensor(v)).sum().backward()
    for i, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        analytic = np.zeros(x.shape) if x.grad is None else x.grad
        numeric = np.zeros(x.shape)
        if not x.data.flags.c_contiguous:
            x.data = np.ascontiguousarray(x.data)
        flat = x.data.reshape(-1)  # a view: perturbing it perturbs the input
        with no_grad():
            for j in range(flat.size):
                orig = flat[j]
                flat[j] = orig + eps
                plus = scalar(fn(*inputs))
                flat[j] = orig - eps
                minus = scalar(fn(*inputs))
                flat[j] = orig
                numeric.reshape(-1)[j] = (plus - minus) / (2 * eps)
        if not np.allclose(analytic, numeric, atol=atol, rtol=rtol):
            err = np.abs(analytic - numeric)
            k = np.unravel_index(int(np.argmax(err)), err.shape) if err.size else ()
            if not raise_exception:
                return False
            raise GradcheckError(
                f"gradcheck: input {i} (shape {x.shape}) gradient mismatch at {k}: "
                f"analytic {analytic[k]!r} vs numeric {numeric[k]!r} "
                f"(max abs error {err.max():.3g})")
    return True
