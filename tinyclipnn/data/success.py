"""The success criterion of Pascanu et al. (2013) for the pathological tasks.

A run *solves* a task when fewer than 1% of 10,000 fresh sequences are answered wrongly.  A
classification sequence is wrong when the arg-max class differs from the target (for noiseless
memorization: when any step differs); an addition/multiplication sequence is wrong when its
squared error exceeds 0.04.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .pathological import Task

__all__ = ["SQUARED_ERROR_TOLERANCE", "SOLVED_ERROR_RATE", "sequence_errors", "error_rate",
           "is_solved"]

SQUARED_ERROR_TOLERANCE = 0.04
SOLVED_ERROR_RATE = 0.01


def sequence_errors(task: Task, output: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Boolean array (B,): which sequences the network got wrong (non-finite outputs are wrong).

    ``output`` is the network's output: logits/probabilities ``(B, n_out)`` for ``last_class``,
    ``(T, B, n_out)`` for ``all_class``, values ``(B, 1)`` for ``last_real``.
    """
    output = np.asarray(output)
    target = np.asarray(target)
    if task.kind == "last_real":
        with np.errstate(over="ignore", invalid="ignore"):
            sq = ((output.reshape(target.shape) - target) ** 2).reshape(len(target), -1)
            return ~(sq.sum(axis=1) <= SQUARED_ERROR_TOLERANCE)  # NaN counts as wrong
    pred = output.argmax(axis=-1)
    if pred.shape != target.shape:
        raise ValueError(f"output for {task.name!r} gives predictions of shape {pred.shape}, "
                         f"targets have shape {target.shape}")
    wrong = (pred != target) | ~np.isfinite(output).all(axis=-1)  # a NaN output is never right
    return wrong.any(axis=0) if task.kind == "all_class" else wrong


def error_rate(
    task: Task,
    predict: Callable[[np.ndarray], np.ndarray],
    length: int,
    rng: np.random.Generator,
    n_sequences: int = 10_000,
    batch_size: int = 1000,
) -> float:
    """Fraction of ``n_sequences`` fresh sequences of ``length`` that ``predict`` gets wrong.

    ``predict`` maps an input batch ``(T, B, n_in)`` to the outputs described in
    :func:`sequence_errors`.
    """
    if n_sequences < 1 or batch_size < 1:
        raise ValueError(f"n_sequences and batch_size must be >= 1, got {n_sequences}, "
                         f"{batch_size}")
    wrong = 0
    done = 0
    while done < n_sequences:
        b = min(batch_size, n_sequences - done)
        x, y = task.generate(b, length, rng)
        wrong += int(sequence_errors(task, predict(x), y).sum())
        done += b
    return wrong / n_sequences


def is_solved(rate: float, threshold: float = SOLVED_ERROR_RATE) -> bool:
    """True when the error rate is below the paper's 1% threshold."""
    return rate < threshold
