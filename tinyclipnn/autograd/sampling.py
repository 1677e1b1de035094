"""Drawing integers: ``randint`` and ``multinomial`` (sampling from a character model), with
PyTorch's signatures, dtypes and checks. Numbers come from numpy's generator (the global one
of `tinyclipnn.manual_seed`, or ``generator=``), so they differ from PyTorch's for a seed; the
distributions are the same."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InputError, int_arg
from .random import default_generator
from .tensor import Tensor, tensor_method


def randint(*args: Any, size: Any = None, low: Any = None, high: Any = None,
            generator: np.random.Generator | None = None, dtype: Any = None,
            requires_grad: bool = False) -> Tensor:
    """Integers uniform on ``[low, high)``: ``randint(high, size)`` or
    ``randint(low, high, size)`` (``size`` a tuple), int64 unless ``dtype`` says otherwise,
    as ``torch.randint``."""
    pos = list(args)
    if size is None and pos:
        size = pos.pop()
    if high is None and pos:
        high = pos.pop()
    if low is None and pos:
        low = pos.pop()
    if pos or size is None or high is None:
        raise TypeError("randint(): expected randint(high, size) or randint(low, high, size) "
                        f"with size a tuple of ints; got {len(args)} positional argument(s)")
    low = 0 if low is None else int_arg("randint", "low", low)
    high = int_arg("randint", "high", high)
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"randint(): argument 'size' must be tuple of ints, not "
                        f"{type(size).__name__}")
    shape = tuple(int_arg("randint", "size", s, 0) for s in size)
    if low >= high:
        raise InputError(f"randint(): random_ expects 'from' to be less than 'to', but got "
                         f"from={low} >= to={high}")
    gen = generator or default_generator()
    values = gen.integers(low, high, size=shape, dtype=np.int64)
    return Tensor(values.astype(np.dtype(dtype)) if dtype is not None else values,
                  requires_grad=requires_grad)


def multinomial(input: Any, num_samples: int, replacement: bool = False, *,
                generator: np.random.Generator | None = None) -> Tensor:
    """``num_samples`` category indices (int64) per row of the non-negative weights ``input``
    (1-D: (num_samples,); 2-D (B, C): (B, num_samples)), as ``torch.multinomial``.

    Weights need not sum to one. Without ``replacement`` a category is drawn at most once
    (each draw proportional to the weights of those left: PyTorch's exponential-race method);
    with it, draws are independent. Typical use, sampling a character at temperature ``T``:
    ``tc.multinomial((logits / T).softmax(-1), 1)``."""
    w = input.data if isinstance(input, Tensor) else np.asarray(input)
    n = int_arg("multinomial", "num_samples", num_samples)
    if w.dtype.kind != "f":
        raise InputError(f"multinomial only supports floating-point dtypes for input, got: "
                         f"{w.dtype}")
    if w.ndim not in (1, 2):
        raise InputError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {w.shape}")
    n_cat = w.shape[-1]
    if n <= 0:
        raise InputError(f"multinomial: cannot sample n_sample <= 0 samples (num_samples={n})")
    if not replacement and n > n_cat:
        raise InputError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples "
                         f"without replacement ({n} > {n_cat})")
    rows = w.reshape(-1, n_cat).astype(np.float64)
    if not np.all(np.isfinite(rows)) or (rows < 0).any():
        raise InputError("multinomial: probability tensor contains either `inf`, `nan` or "
                         "element < 0")
    totals = rows.sum(axis=1)
    if (totals <= 0).any():
        raise InputError(f"multinomial: invalid multinomial distribution (sum of "
                         f"probabilities <= 0) in row {int(np.argmax(totals <= 0))}")
    gen = generator or default_generator()
    if replacement:
        out = np.empty((rows.shape[0], n), np.int64)
        for r, (weights, total) in enumerate(zip(rows, totals, strict=True)):
            cdf = np.cumsum(weights)
            picked = np.searchsorted(cdf, gen.random(n) * total, side="right")
            out[r] = np.minimum(picked, np.flatnonzero(weights)[-1])  # rounding at the top
    else:
        with np.errstate(divide="ignore"):
            keys = rows / gen.exponential(size=rows.shape)  # largest n keys: a weighted draw
        out = np.argsort(-keys, axis=1, kind="stable")[:, :n].astype(np.int64)
    return Tensor._wrap(out.reshape(w.shape[:-1] + (n,)), False)



@tensor_method(name="multinomial")
def multinomial_method(self, num_samples: int, replacement: bool = False, *,
                       generator: Any = None) -> Tensor:
    """Indices drawn from the categories weighted by this tensor's rows (see
    ``tinyclipnn.multinomial``)."""
    return multinomial(self, num_samples, replacement, generator=generator)
