"""Small test helpers shared by the test modules."""

import numpy as np

import tinyclipnn as tc


def t64(*shape, seed=0, positive=False, requires_grad=True):
    """A float64 tensor of random values (strictly positive when asked)."""
    rng = np.random.default_rng(seed)
    data = rng.uniform(0.5, 2.0, shape) if positive else rng.standard_normal(shape)
    return tc.Tensor(data.astype(np.float64), requires_grad=requires_grad)
