"""The cases behind foundation.npz, written once for torch and tinyclipnn alike.

Each composition is ``fn(lib, *tensors)`` using only names both libraries share.
"""

import numpy as np

COMPOSITIONS = {
    "mlp_tanh": (lambda lib, x, w, b: lib.tanh(x @ w + b).sum(), [(4, 3), (3, 5), (5,)]),
    "softmax_mix": (lambda lib, x, y: (lib.softmax(x, 1) * y).sum(), [(3, 4), (3, 4)]),
    "log_softmax": (lambda lib, x: lib.log_softmax(x * 2.0, 0).sum(), [(3, 4)]),
    "broadcast_div": (lambda lib, x, y: (x / y - y * x).exp().mean(), [(2, 3, 4), (3, 1)]),
    "sigmoid_pow": (lambda lib, x: (lib.sigmoid(x) ** 3).sum(), [(5,)]),
    "sqrt_abs_clamp": (lambda lib, x: (lib.sqrt(x) + lib.clamp(x, 0.7, 1.2)).sum(), [(6,)]),
    "index_cat": (lambda lib, x, y: lib.cat([x[1:], y[:, :2].T], 1).sum(), [(3, 2), (2, 3)]),
    "stack_amax": (lambda lib, x, y: lib.stack([x, y], 0).amax(0).sum(), [(2, 3), (2, 3)]),
    "relu_mean": (lambda lib, x: ((x - 1.0).relu() * x).mean(), [(4, 4)]),
    "batched_matmul": (lambda lib, x, y: lib.tanh(x @ y).sum(), [(2, 3, 4), (4, 2)]),
}

OPTIMIZERS = {
    "sgd": ("SGD", dict(lr=0.1)),
    "sgd_momentum": ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    "sgd_nesterov": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    "adam": ("Adam", dict(lr=0.01)),
    "adam_amsgrad_wd": ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    "adamw": ("AdamW", dict(lr=0.01)),
}


def ce_inputs():
    rng = np.random.default_rng(42)
    return rng.standard_normal((6, 5)) * 3, np.array([0, 4, 2, -100, 1, 3])


def optim_inputs():
    rng = np.random.default_rng(7)
    return rng.standard_normal(5), [rng.standard_normal(5) for _ in range(8)]
