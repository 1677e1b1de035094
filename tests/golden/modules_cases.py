"""The nn-module cases behind modules.npz, written once for torch and tinyclipnn alike.

MODULES: ``build(lib) -> module``, fixed parameter arrays (loaded through ``load_state_dict``),
``forward(lib, module, *inputs)`` -> tensor, input shapes; the output and the gradients of
``sum(out * 1)`` w.r.t. inputs and parameters are compared. REPR_MODEL: a model whose
``repr`` and ``named_modules`` / ``named_parameters`` names must equal PyTorch's.
"""

from collections import OrderedDict

import numpy as np

TARGET = np.array([0, 4, 2, 1, 3, 4])
TARGET_IGNORE = np.array([0, 4, -100, 1, 3, -100])
TARGET_2D = np.array([[0, 2, 1], [2, 2, 0]])
WEIGHT = np.array([0.5, 2.0, 1.0, 0.25, 3.0])


def _p(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


MODULES = {
    "layernorm": (lambda lib: lib.nn.LayerNorm(4, dtype=lib.float64),
                  {"weight": _p(1, 4), "bias": _p(2, 4)}, lambda lib, m, x: m(x), [(3, 4)]),
    "layernorm_2d_eps": (lambda lib: lib.nn.LayerNorm((3, 4), eps=1e-3, dtype=lib.float64),
                         {"weight": _p(3, 3, 4), "bias": _p(4, 3, 4)}, lambda lib, m, x: m(x),
                         [(2, 3, 4)]),
    "layernorm_no_affine": (lambda lib: lib.nn.LayerNorm(5, elementwise_affine=False), None,
                            lambda lib, m, x: m(x), [(2, 5)]),
    "layernorm_no_bias": (lambda lib: lib.nn.LayerNorm(5, bias=False, dtype=lib.float64),
                          {"weight": _p(5, 5)}, lambda lib, m, x: m(x), [(2, 5)]),
    "gelu": (lambda lib: lib.nn.GELU(), None, lambda lib, m, x: m(x * 3.0), [(4, 5)]),
    "gelu_tanh": (lambda lib: lib.nn.GELU(approximate="tanh"), None,
                  lambda lib, m, x: m(x * 3.0), [(4, 5)]),
    "softmax": (lambda lib: lib.nn.Softmax(dim=1), None, lambda lib, m, x: m(x) * x, [(3, 4)]),
    "log_softmax": (lambda lib: lib.nn.LogSoftmax(dim=0), None, lambda lib, m, x: m(x) * x,
                    [(3, 4)]),
    "mse_mean": (lambda lib: lib.nn.MSELoss(), None, lambda lib, m, x, y: m(x, y), [(3, 4), (3, 4)]),
    "mse_sum": (lambda lib: lib.nn.MSELoss(reduction="sum"), None, lambda lib, m, x, y: m(x, y),
                [(3, 4), (3, 4)]),
    "mse_none": (lambda lib: lib.nn.MSELoss(reduction="none"), None,
                 lambda lib, m, x, y: m(x, y), [(3, 4), (3, 4)]),
    "nll": (lambda lib: lib.nn.NLLLoss(), None,
            lambda lib, m, x: m(x.log_softmax(1), lib.tensor(TARGET_IGNORE)), [(6, 5)]),
    "nll_sum": (lambda lib: lib.nn.NLLLoss(reduction="sum", ignore_index=4), None,
                lambda lib, m, x: m(x, lib.tensor(TARGET)), [(6, 5)]),
    "ce": (lambda lib: lib.nn.CrossEntropyLoss(), None,
           lambda lib, m, x: m(x, lib.tensor(TARGET)), [(6, 5)]),
    "ce_smooth": (lambda lib: lib.nn.CrossEntropyLoss(label_smoothing=0.1), None,
                  lambda lib, m, x: m(x * 2.0, lib.tensor(TARGET)), [(6, 5)]),
    "ce_smooth_ignore": (lambda lib: lib.nn.CrossEntropyLoss(label_smoothing=0.3), None,
                         lambda lib, m, x: m(x, lib.tensor(TARGET_IGNORE)), [(6, 5)]),
    "ce_smooth_sum": (lambda lib: lib.nn.CrossEntropyLoss(label_smoothing=0.2, reduction="sum"),
                      None, lambda lib, m, x: m(x, lib.tensor(TARGET_IGNORE)), [(6, 5)]),
    "ce_smooth_none": (lambda lib: lib.nn.CrossEntropyLoss(label_smoothing=0.2, reduction="none"),
                       None, lambda lib, m, x: m(x, lib.tensor(TARGET_IGNORE)), [(6, 5)]),
    "ce_smooth_spatial": (lambda lib: lib.nn.CrossEntropyLoss(label_smoothing=0.25), None,
                          lambda lib, m, x: m(x, lib.tensor(TARGET_2D)), [(2, 3, 3)]),
    "ce_smooth_unbatched": (lambda lib: lib.nn.CrossEntropyLoss(label_smoothing=0.4), None,
                            lambda lib, m, x: m(x, lib.tensor(np.array(2))), [(5,)]),
    "ce_weight": (lambda lib: lib.nn.CrossEntropyLoss(weight=lib.tensor(WEIGHT)), None,
                  lambda lib, m, x: m(x, lib.tensor(TARGET_IGNORE)), [(6, 5)]),
    "ce_weight_smooth": (lambda lib: lib.nn.CrossEntropyLoss(weight=lib.tensor(WEIGHT),
                                                             label_smoothing=0.3), None,
                         lambda lib, m, x: m(x, lib.tensor(TARGET_IGNORE)), [(6, 5)]),
    "ce_weight_smooth_sum": (lambda lib: lib.nn.CrossEntropyLoss(
        weight=lib.tensor(WEIGHT), label_smoothing=0.1, reduction="sum"), None,
        lambda lib, m, x: m(x, lib.tensor(TARGET)), [(6, 5)]),
    "ce_weight_smooth_spatial": (lambda lib: lib.nn.CrossEntropyLoss(
        weight=lib.tensor(WEIGHT[:3]), label_smoothing=0.2), None,
        lambda lib, m, x: m(x, lib.tensor(TARGET_2D)), [(2, 3, 3)]),
    "nll_weight_none": (lambda lib: lib.nn.NLLLoss(weight=lib.tensor(WEIGHT), reduction="none"),
                        None, lambda lib, m, x: m(x.log_softmax(1), lib.tensor(TARGET_IGNORE)),
                        [(6, 5)]),
    "nll_weight_mean": (lambda lib: lib.nn.NLLLoss(weight=lib.tensor(WEIGHT)), None,
                        lambda lib, m, x: m(x, lib.tensor(TARGET)), [(6, 5)]),
}


def repr_model(lib):
    """A model using every module kind, to compare ``repr`` and names with PyTorch's."""
    nn = lib.nn
    return nn.Sequential(OrderedDict([
        ("embed", nn.Embedding(5, 3, padding_idx=0)),
        ("blocks", nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 3), nn.Linear(3, 3, bias=False),
                                  nn.GELU(approximate="tanh")])),
        ("heads", nn.ModuleDict({"ln": nn.LayerNorm(3), "act": nn.GELU(), "sm": nn.Softmax(dim=1)})),
        ("rnn", nn.LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True, dropout=0.1)),
        ("gru", nn.GRU(8, 4)),
        ("elman", nn.RNN(4, 4, nonlinearity="relu", bias=False)),
        ("cells", nn.ModuleList([nn.RNNCell(4, 4, nonlinearity="relu"), nn.LSTMCell(4, 4),
                                 nn.GRUCell(4, 4, bias=False)])),
        ("drop", nn.Dropout(0.25)),
        ("acts", nn.Sequential(nn.Tanh(), nn.ReLU(), nn.Sigmoid(), nn.Identity(),
                               nn.LogSoftmax(dim=-1))),
        ("norm2", nn.LayerNorm((2, 3), eps=1e-6, elementwise_affine=False)),
        ("losses", nn.ModuleList([nn.CrossEntropyLoss(label_smoothing=0.1), nn.MSELoss(),
                                  nn.NLLLoss()])),
        ("empty", nn.ModuleList()),
    ]))


def inputs(name, shapes):
    rng = np.random.default_rng(sum(name.encode()))
    return [rng.standard_normal(s) for s in shapes]


def to_numpy(x):
    """A gradient or tensor of either library as an ndarray."""
    if hasattr(x, "detach"):
        x = x.detach()
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def run_module(lib, name):
    """``{"out", "grad_in<i>", "grad_<param>"}`` arrays for case ``name`` run with ``lib``."""
    build, params, forward, shapes = MODULES[name]
    m = build(lib)
    if params is not None:
        m.load_state_dict({k: lib.tensor(v) for k, v in params.items()})
    xs = [lib.tensor(x, requires_grad=True) for x in inputs(name, shapes)]
    y = forward(lib, m, *xs)
    y.backward(lib.ones_like(y))
    out = {"out": to_numpy(y)}
    for i, x in enumerate(xs):
        out[f"grad_in{i}"] = to_numpy(x.grad)
    for k, p in m.named_parameters():
        out[f"grad_{k}"] = to_numpy(p.grad)
    return out


def structure(lib):
    """The repr, module names, parameter names and ``apply`` visiting order of `repr_model`."""
    m = repr_model(lib)
    visited = []
    m.apply(lambda mod: visited.append(type(mod).__name__))
    return {"repr": repr(m), "modules": [n for n, _ in m.named_modules()],
            "params": [n for n, _ in m.named_parameters()], "apply": visited,
            "children": [n for n, _ in m.named_children()]}
