"""The 2-D "spirals" classification task (CS231n's), a small non-linear problem for MLPs."""

from __future__ import annotations

import numpy as np


def make_spirals(n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2,
                 seed: int = 0, dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms. Returns ``x`` (N, 2) and integer labels ``y`` (N,),
    N = n_per_class * n_classes."""
    if n_per_class < 1 or n_classes < 1:
        raise ValueError(f"n_per_class and n_classes must be >= 1, got {n_per_class}, {n_classes}")
    rng = np.random.default_rng(seed)
    r = np.tile(np.linspace(0.0, 1.0, n_per_class), n_classes)
    y = np.repeat(np.arange(n_classes), n_per_class)
    theta = (y * 4.0 + r * 4.0) + rng.standard_normal(r.shape) * noise
    x = np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1).astype(dtype)
    return x, y.astype(np.int64)
