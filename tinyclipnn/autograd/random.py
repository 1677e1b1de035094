"""The global random generator behind parameter init and dropout (``tinyclipnn.manual_seed``)."""

from __future__ import annotations

import numpy as np

_gen = [np.random.default_rng()]


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator (as ``torch.manual_seed``); returns it."""
    _gen[0] = np.random.default_rng(seed)
    return _gen[0]


def default_generator() -> np.random.Generator:
    """The global ``np.random.Generator`` used when no ``rng`` is passed."""
    return _gen[0]
