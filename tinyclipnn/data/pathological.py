"""Pascanu, Mikolov & Bengio (2013) pathological sequence tasks.

The generators follow the definitions of the paper's reference code (``trainingRNNs``), which in
turn follow Hochreiter & Schmidhuber (1997).  Every generator returns ``(x, y)`` in
sequence-first layout: ``x`` has shape ``(T, B, n_in)`` (float32), matching the default
``batch_first=False`` of the recurrent layers.  Targets are

* class indices ``(B,)`` int64 for the tasks read at the last step (temporal order, 3-bit
  temporal order, random permutation),
* class indices ``(T, B)`` int64 for noiseless memorization (a target at every step),
* real values ``(B, 1)`` float32 for addition and multiplication.

All randomness comes from the ``numpy.random.Generator`` passed in, so a seed fixes the data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Task",
    "TASKS",
    "get_task",
    "temporal_order",
    "temporal_order_3bit",
    "addition",
    "multiplication",
    "random_permutation",
    "noiseless_memorization",
]

Batch = tuple[np.ndarray, np.ndarray]


def _check(batch_size: int, length: int, min_length: int) -> None:
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    if int(length) < min_length:
        raise ValueError(f"length must be >= {min_length} for this task, got {length!r}")


def _one_hot(symbols: np.ndarray, depth: int) -> np.ndarray:
    out = np.zeros(symbols.shape + (depth,), dtype=np.float32)
    np.put_along_axis(out, symbols[..., None], 1.0, axis=-1)
    return out


def _marked_symbols(
    batch_size: int, length: int, rng: np.random.Generator, starts: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Distractors c..f (2..5) with one relevant symbol A/B (0/1) in each window [s*L, (s+.1)*L)."""
    width = int(length * 0.1)
    vals = rng.integers(2, 6, size=(length, batch_size))
    cols = np.arange(batch_size)
    label = np.zeros(batch_size, dtype=np.int64)
    for bit, start in enumerate(starts):
        pos = rng.integers(0, width, size=batch_size) + int(length * start)
        v = rng.integers(0, 2, size=batch_size)
        vals[pos, cols] = v
        label += v << bit
    return vals, label


def temporal_order(batch_size: int, length: int, rng: np.random.Generator) -> Batch:
    """Temporal order: symbols A/B at a random step of [0.1L, 0.2L) and of [0.5L, 0.6L) among
    random distractors c..f (6 one-hot channels); the class (4) is ``v0 + 2*v1``
    (AA=0, BA=1, AB=2, BB=3 with A=0, B=1), read at the last step."""
    _check(batch_size, length, 10)
    vals, label = _marked_symbols(batch_size, length, rng, (0.1, 0.5))
    return _one_hot(vals, 6), label


def temporal_order_3bit(batch_size: int, length: int, rng: np.random.Generator) -> Batch:
    """3-bit temporal order: relevant symbols in [0.1L, 0.2L), [0.3L, 0.4L) and [0.6L, 0.7L);
    8 classes ``v0 + 2*v1 + 4*v2``."""
    _check(batch_size, length, 10)
    vals, label = _marked_symbols(batch_size, length, rng, (0.1, 0.3, 0.6))
    return _one_hot(vals, 6), label


def _two_marked_numbers(
    batch_size: int, length: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Addition/multiplication input: channel 1 uniform [0, 1), channel 0 marks two steps, the
    first in [0, 0.1l) and the second in [0.1l, 0.5l).  The whole batch gets one length
    ``l = length + U{0, ..., 0.1*length - 1}``, as in the reference code."""
    _check(batch_size, length, 10)
    l = length + int(rng.integers(0, int(length * 0.1)))
    cols = np.arange(batch_size)
    p0 = rng.integers(0, int(l * 0.1), size=batch_size)
    p1 = rng.integers(0, int(l * 0.4), size=batch_size) + int(l * 0.1)
    x = rng.random((l, batch_size, 2)).astype(np.float32)
    x[:, :, 0] = 0.0
    x[p0, cols, 0] = 1.0
    x[p1, cols, 0] = 1.0
    return x, x[p0, cols, 1], x[p1, cols, 1]


def addition(batch_size: int, length: int, rng: np.random.Generator) -> Batch:
    """Addition: target is the mean ``(a + b) / 2`` of the two marked numbers, shape (B, 1)."""
    x, a, b = _two_marked_numbers(batch_size, length, rng)
    return x, ((a + b) / 2).astype(np.float32)[:, None]


def multiplication(batch_size: int, length: int, rng: np.random.Generator) -> Batch:
    """Multiplication: target is the product ``a * b`` of the two marked numbers, shape (B, 1)."""
    x, a, b = _two_marked_numbers(batch_size, length, rng)
    return x, (a * b).astype(np.float32)[:, None]


def random_permutation(batch_size: int, length: int, rng: np.random.Generator) -> Batch:
    """Random permutation: 100 one-hot symbols; the first is 0 or 1, the rest are random in
    2..99; the class to predict after the last step is the first symbol."""
    _check(batch_size, length, 2)
    vals = rng.integers(2, 100, size=(length, batch_size))
    first = rng.integers(0, 2, size=batch_size)
    vals[0] = first
    return _one_hot(vals, 100), first.astype(np.int64)


def noiseless_memorization(
    batch_size: int,
    length: int,
    rng: np.random.Generator,
    n_values: int = 5,
    n_pos: int = 10,
) -> Batch:
    """Noiseless memorization: a pattern of ``n_pos`` symbols (``n_values`` kinds) is shown, then
    ``length`` blank steps, then a trigger; the net must output "blank" (class ``n_values``) until
    the last ``n_pos`` steps, where it must reproduce the pattern.  Input channels: the
    ``n_values`` symbols, blank (``n_values``) and trigger (``n_values + 1``).  Total time
    ``length + 2 * n_pos``; targets ``(T, B)``."""
    _check(batch_size, length, 1)
    total = length + 2 * n_pos
    pattern = rng.integers(0, n_values, size=(n_pos, batch_size))
    symbols = np.full((total, batch_size), n_values, dtype=np.int64)
    symbols[:n_pos] = pattern
    symbols[length + n_pos] = n_values + 1
    y = np.full((total, batch_size), n_values, dtype=np.int64)
    y[-n_pos:] = pattern
    return _one_hot(symbols, n_values + 2), y


@dataclass(frozen=True)
class Task:
    """A pathological task: its generator, sizes and how its output is read.

    ``kind`` is ``"last_class"`` (softmax at the last step), ``"all_class"`` (softmax at every
    step, a sequence is wrong if any step is wrong) or ``"last_real"`` (linear output at the last
    step, wrong when the squared error exceeds 0.04).
    """

    name: str
    n_in: int
    n_out: int
    kind: str
    generate: Callable[[int, int, np.random.Generator], Batch]
    description: str

    def __call__(self, batch_size: int, length: int, rng: np.random.Generator) -> Batch:
        return self.generate(batch_size, length, rng)


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task("temporal_order", 6, 4, "last_class", temporal_order,
             "order of two symbols A/B hidden among distractors"),
        Task("temporal_order_3bit", 6, 8, "last_class", temporal_order_3bit,
             "order of three symbols A/B hidden among distractors"),
        Task("addition", 2, 1, "last_real", addition, "mean of two marked numbers"),
        Task("multiplication", 2, 1, "last_real", multiplication,
             "product of two marked numbers"),
        Task("random_permutation", 100, 100, "last_class", random_permutation,
             "recall the first of 100 symbols"),
        Task("noiseless_memorization", 7, 6, "all_class", noiseless_memorization,
             "replay a 10-symbol pattern after a delay"),
    )
}

_ALIASES = {"torder": "temporal_order", "torder3": "temporal_order_3bit", "add": "addition",
            "mul": "multiplication", "perm": "random_permutation",
            "mem": "noiseless_memorization"}


def get_task(name: str) -> Task:
    """Look a task up by name (or the reference code's short name: torder, add, mem, ...)."""
    key = _ALIASES.get(name, name)
    if key not in TASKS:
        allowed = ", ".join(sorted(TASKS) + sorted(_ALIASES))
        raise ValueError(f"task must be one of {allowed}; got {name!r}")
    return TASKS[key]
