"""The global random generator behind parameter init and dropout (``tinyclipnn.manual_seed``)."""

from __future__ import annotations

import os

import numpy as np

_gen = [np.random.default_rng()]


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator (as ``torch.manual_seed``); returns it."""
    _gen[0] = np.random.default_rng(seed)
    return _gen[0]


def default_generator() -> np.random.Generator:
    """The global ``np.random.Generator`` used when no ``rng`` is passed."""
    return _gen[0]


def _fresh_lock_in_child() -> None:
    """After fork: the same stream (the child continues from the parent's state, as with
    PyTorch) in a new bit generator, because numpy's generator lock may have been held by
    another parent thread at the fork, and nothing in the child would ever release it."""
    old = _gen[0].bit_generator
    new = type(old)()
    new.state = old.state  # reading the state takes no lock
    _gen[0] = np.random.Generator(new)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_lock_in_child)
