"""The issue-20 "PyTorch habit" cases behind torch_habits.npz, written once for torch and
tinyclipnn alike (``lib`` is either module).

COMPOSITIONS: ``fn(lib, *float64 tensors)`` -> tensor; its value and every input's gradient (of
``sum(out)``) are compared. VALUES: ``fn(lib)`` -> a non-differentiable result compared by value
and dtype name. OPTIMIZERS: ``(class name, kwargs)`` whose trajectories on `optim_inputs` are
compared. INITS: ``(init name, kwargs, shape)`` whose sample std is compared.
"""

import numpy as np

TIES = np.array([[1.0, 2.0, 3.0], [4.0, 4.0, -1.0]])  # equal entries: the tie rules show
MASK = np.array([[True, False, True, False], [False, False, True, True], [True, True, False,
                                                                           False]])
LABELS = np.array([3, 0, 4, 1])


def _probs(lib, shape, seed):
    rng = np.random.default_rng(seed)
    return lib.tensor(rng.dirichlet(np.ones(shape[1]), size=shape[0]).reshape(shape))


def _probs3(lib):
    rng = np.random.default_rng(7)
    p = rng.dirichlet(np.ones(3), size=(2, 4))  # (2, 4, 3) -> class dim 1
    return lib.tensor(np.ascontiguousarray(p.transpose(0, 2, 1)))


COMPOSITIONS = {
    "maximum": (lambda lib, a, b: lib.maximum(a, b) * 2.0, [(3, 4), (3, 4)]),
    "minimum_broadcast": (lambda lib, a, b: lib.minimum(a, b) ** 2, [(3, 4), (4,)]),
    "maximum_ties": (lambda lib, a: lib.maximum(a, lib.tensor(TIES)) * a, [(2, 3)]),
    "max_binary": (lambda lib, a, b: lib.max(a, b) + lib.min(a, b) * 3.0, [(3, 4), (3, 4)]),
    "max_axis_keepdims": (lambda lib, x: lib.max(x, axis=1, keepdims=True).values * x,
                          [(3, 4)]),
    "max_dim_keepdim": (lambda lib, x: lib.max(x, dim=1, keepdim=True)[0] * x, [(3, 4)]),
    "min_dim": (lambda lib, x: lib.min(x, 0).values, [(3, 4)]),
    "sum_axis_keepdims": (lambda lib, x: lib.sum(x, axis=0, keepdims=True) * x, [(3, 4)]),
    "mean_dim_keepdim": (lambda lib, x: lib.mean(x, dim=1, keepdim=True) * x, [(3, 4)]),
    "topk": (lambda lib, x: x.topk(2).values * 3.0, [(3, 5)]),
    "topk_smallest_dim0": (lambda lib, x: lib.topk(x, 2, dim=0, largest=False)[0] ** 2,
                           [(4, 3)]),
    "expand": (lambda lib, x: x.expand(2, 3, 4) * lib.arange(4.0, dtype=lib.float64), [(3, 1)]),
    "expand_minus_one": (lambda lib, x: x.expand(5, -1) ** 2, [(1, 3)]),
    "expand_as": (lambda lib, x, y: x.expand_as(y) * y, [(4,), (3, 4)]),
    "repeat": (lambda lib, x: x.repeat(2, 3) * lib.arange(24.0, dtype=lib.float64).reshape(4, 6),
               [(2, 2)]),
    "repeat_new_dims": (lambda lib, x: x.repeat(2, 1, 2) ** 2, [(3, 2)]),
    "masked_fill": (lambda lib, x: x.masked_fill(lib.tensor(MASK), -1.5) * x, [(3, 4)]),
    "masked_fill_broadcast": (lambda lib, x: x.masked_fill(lib.tensor(MASK[0]), 0.0) * 2.0,
                              [(3, 4)]),
    "masked_fill_tensor_value": (lambda lib, x, v: lib.masked_fill(x, lib.tensor(MASK), v) ** 2,
                                 [(3, 4), ()]),
    "masked_fill_attention": (lambda lib, x: x.masked_fill(lib.tensor(MASK), float("-inf"))
                              .softmax(-1), [(3, 4)]),
    "soft_ce": (lambda lib, x: lib.nn.functional.cross_entropy(x, _probs(lib, (4, 5), 1)),
                [(4, 5)]),
    "soft_ce_weight_smooth": (lambda lib, x: lib.nn.functional.cross_entropy(
        x, _probs(lib, (4, 5), 2), weight=lib.tensor(np.linspace(0.5, 2.0, 5)),
        label_smoothing=0.2), [(4, 5)]),
    "soft_ce_sum": (lambda lib, x: lib.nn.CrossEntropyLoss(reduction="sum")(
        x, _probs(lib, (4, 5), 3)), [(4, 5)]),
    "soft_ce_none": (lambda lib, x: lib.nn.functional.cross_entropy(
        x, _probs(lib, (4, 5), 4), reduction="none"), [(4, 5)]),
    "soft_ce_3d": (lambda lib, x: lib.nn.functional.cross_entropy(x, _probs3(lib)), [(2, 3, 4)]),
    "soft_ce_unbatched": (lambda lib, x: lib.nn.functional.cross_entropy(
        x, _probs(lib, (1, 5), 5).reshape(5)), [(5,)]),
    "soft_ce_target_grad": (lambda lib, x, t: lib.nn.functional.cross_entropy(x, t.softmax(-1)),
                            [(4, 5), (4, 5)]),
    "index_ce_smooth": (lambda lib, x: lib.nn.functional.cross_entropy(
        x, lib.tensor(LABELS), label_smoothing=0.1), [(4, 5)]),
    "l1_loss": (lambda lib, x, y: lib.nn.functional.l1_loss(x, y), [(3, 4), (3, 4)]),
    "l1_loss_sum": (lambda lib, x, y: lib.nn.L1Loss(reduction="sum")(x, y), [(3, 4), (3, 4)]),
    "mse_loss_none": (lambda lib, x, y: lib.nn.functional.mse_loss(x, y, reduction="none"),
                      [(3, 4), (3, 4)]),
    "one_hot_times": (lambda lib, x: lib.nn.functional.one_hot(lib.tensor(LABELS), 5) * x,
                      [(4, 5)]),
    "parameters_to_vector": (lambda lib, a, b: lib.nn.utils.parameters_to_vector([a, b]) ** 2,
                             [(2, 3), (4,)]),
}

VALUES = {
    "topk_indices": lambda lib: lib.tensor(TIES).topk(2).indices,
    "topk_indices_smallest": lambda lib: lib.tensor(TIES).topk(2, dim=1, largest=False)[1],
    "topk_int": lambda lib: lib.tensor(LABELS).topk(3).values,
    "topk_uint8": lambda lib: lib.tensor(LABELS.astype(np.uint8)).topk(2)[1],
    "topk_nan": lambda lib: lib.tensor(np.array([1.0, np.nan, 3.0, np.nan])).topk(3).indices,
    "topk_nan_smallest": lambda lib: lib.tensor(np.array([np.nan, 2.0, 1.0])).topk(
        3, largest=False).indices,
    "topk_ties_3d": lambda lib: lib.tensor(np.array([[[1, 1], [2, 1]], [[0, 0], [0, 3]]])
                                           ).topk(1, dim=1)[1],
    "max_binary_int": lambda lib: lib.max(lib.tensor(LABELS), lib.tensor(LABELS[::-1].copy())),
    "maximum_int_float": lambda lib: lib.maximum(lib.tensor(LABELS), lib.ones(4)),
    "one_hot": lambda lib: lib.nn.functional.one_hot(lib.tensor(LABELS)),
    "one_hot_classes": lambda lib: lib.nn.functional.one_hot(lib.tensor(LABELS), num_classes=6),
    "one_hot_2d": lambda lib: lib.nn.functional.one_hot(lib.tensor(LABELS.reshape(2, 2)), 5),
    "masked_fill_int": lambda lib: lib.tensor(LABELS).masked_fill(lib.tensor(LABELS) > 2, 9),
    "expand_int": lambda lib: lib.tensor(LABELS).expand(2, 4),
    "repeat_int": lambda lib: lib.tensor(LABELS).repeat(2),
    "argmax_axis": lambda lib: lib.argmax(lib.tensor(TIES), dim=1, keepdim=True),
    "randint_shape_dtype": lambda lib: lib.zeros_like(lib.randint(3, 10, (2, 5))),
    "randint_high_only": lambda lib: lib.zeros_like(lib.randint(4, (3,))),
    "randint_float_dtype": lambda lib: lib.zeros_like(lib.randint(4, (3,), dtype=lib.float32)),
    "multinomial_shape_dtype": lambda lib: lib.zeros_like(
        lib.multinomial(lib.tensor(np.full((2, 4), 0.25)), 3)),
    "multinomial_1d": lambda lib: lib.zeros_like(
        lib.multinomial(lib.tensor(np.array([0.1, 0.9])), 5, replacement=True)),
    "multinomial_certain": lambda lib: lib.multinomial(
        lib.tensor(np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])), 1),
}

OPTIMIZERS = {
    "rmsprop": ("RMSprop", {}),
    "rmsprop_all": ("RMSprop", dict(lr=0.05, alpha=0.9, eps=1e-6, weight_decay=0.1,
                                    momentum=0.8, centered=True)),
    "rmsprop_centered_maximize": ("RMSprop", dict(centered=True, maximize=True)),
    "adagrad": ("Adagrad", {}),
    "adagrad_all": ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1,
                                    initial_accumulator_value=0.3, eps=1e-8)),
    "adagrad_maximize": ("Adagrad", dict(maximize=True)),
}

INITS = {
    "kaiming_normal_fan_in": ("kaiming_normal_", {}, (400, 300)),
    "kaiming_normal_fan_out_relu": ("kaiming_normal_", dict(mode="fan_out", nonlinearity="relu"),
                                    (200, 500)),
    "kaiming_normal_a": ("kaiming_normal_", dict(a=0.3), (300, 20, 5)),
    "kaiming_uniform_fan_out": ("kaiming_uniform_", dict(mode="fan_out"), (300, 400)),
    "xavier_normal": ("xavier_normal_", {}, (400, 300)),
    "xavier_normal_gain": ("xavier_normal_", dict(gain=2.0), (100, 30, 3)),
    "orthogonal_tall": ("orthogonal_", {}, (300, 200)),
    "orthogonal_wide_gain": ("orthogonal_", dict(gain=1.5), (200, 300)),
}

GAINS = [("linear", None), ("sigmoid", None), ("tanh", None), ("relu", None),
         ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None), ("conv2d", None)]


def _lstm(lib, **kw):
    lib.manual_seed(0)
    return lib.nn.LSTM(3, 4, **kw)


def _x(lib, *shape, dtype=None):
    return lib.zeros(*shape, dtype=dtype or lib.float32)


# fn(lib) that must raise; the test checks that ours raises an instance of the builtin class
# PyTorch raises (recorded in the golden file), so ``except <that class>`` catches both
ERRORS = {
    "lstm_bad_features": lambda lib: _lstm(lib)(_x(lib, 5, 2, 4)),
    "lstm_4d_input": lambda lib: _lstm(lib)(_x(lib, 1, 5, 2, 3)),
    "lstm_empty_sequence": lambda lib: _lstm(lib)(_x(lib, 0, 2, 3)),
    "lstm_bad_h0_batch": lambda lib: _lstm(lib)(_x(lib, 5, 2, 3), (_x(lib, 1, 3, 4),
                                                                 _x(lib, 1, 2, 4))),
    "lstm_bad_c0_hidden": lambda lib: _lstm(lib)(_x(lib, 5, 2, 3), (_x(lib, 1, 2, 4),
                                                                  _x(lib, 1, 2, 5))),
    "lstm_bad_h0_layers": lambda lib: _lstm(lib)(_x(lib, 5, 2, 3), (_x(lib, 2, 2, 4),
                                                                  _x(lib, 2, 2, 4))),
    "lstm_float64_input": lambda lib: _lstm(lib)(_x(lib, 5, 2, 3, dtype=lib.float64)),
    "lstm_float64_c0": lambda lib: _lstm(lib)(_x(lib, 5, 2, 3), (_x(lib, 1, 2, 4),
                                                               _x(lib, 1, 2, 4, dtype=lib.float64))),
    "lstm_float64_h0": lambda lib: _lstm(lib)(_x(lib, 5, 2, 3), (_x(lib, 1, 2, 4, dtype=lib.float64),
                                                               _x(lib, 1, 2, 4))),
    "gru_bad_h0": lambda lib: lib.nn.GRU(3, 4)(_x(lib, 5, 2, 3), _x(lib, 1, 2, 5)),
    "gru_float64_h0": lambda lib: lib.nn.GRU(3, 4)(_x(lib, 5, 2, 3),
                                                   _x(lib, 1, 2, 4, dtype=lib.float64)),
    "rnn_batch_first_bad_h0": lambda lib: lib.nn.RNN(3, 4, batch_first=True)(
        _x(lib, 2, 5, 3), _x(lib, 1, 5, 4)),
    "rnn_bidirectional_bad_h0": lambda lib: lib.nn.RNN(3, 4, bidirectional=True)(
        _x(lib, 5, 2, 3), _x(lib, 1, 2, 4)),
    "rnn_unbatched_bad_h0": lambda lib: lib.nn.RNN(3, 4)(_x(lib, 5, 3), _x(lib, 1, 2, 4)),
    "rnncell_3d_input": lambda lib: lib.nn.RNNCell(3, 4)(_x(lib, 1, 2, 3)),
    "rnncell_bad_features": lambda lib: lib.nn.RNNCell(3, 4)(_x(lib, 2, 4)),
    "rnncell_bad_batch": lambda lib: lib.nn.RNNCell(3, 4)(_x(lib, 2, 3), _x(lib, 3, 4)),
    "rnncell_bad_hidden": lambda lib: lib.nn.RNNCell(3, 4)(_x(lib, 2, 3), _x(lib, 2, 5)),
    "lstmcell_bad_hidden": lambda lib: lib.nn.LSTMCell(3, 4)(_x(lib, 2, 3), (_x(lib, 2, 4),
                                                                           _x(lib, 2, 5))),
    "grucell_float64_input": lambda lib: lib.nn.GRUCell(3, 4)(_x(lib, 2, 3, dtype=lib.float64)),
    "rnncell_float64_h": lambda lib: lib.nn.RNNCell(3, 4)(_x(lib, 2, 3),
                                                        _x(lib, 2, 4, dtype=lib.float64)),
    "linear_float64_input": lambda lib: lib.nn.Linear(3, 2)(_x(lib, 4, 3, dtype=lib.float64)),
    "linear_int_input": lambda lib: lib.nn.Linear(3, 2)(_x(lib, 4, 3, dtype=lib.int64)),
    "functional_linear_float64": lambda lib: lib.nn.functional.linear(
        _x(lib, 4, 3, dtype=lib.float64), lib.nn.Linear(3, 2).weight),
    "multinomial_negative": lambda lib: lib.multinomial(lib.tensor([-1.0, 2.0]), 1),
    "multinomial_nan": lambda lib: lib.multinomial(lib.tensor([float("nan"), 2.0]), 1),
    "multinomial_zero_sum": lambda lib: lib.multinomial(lib.tensor([0.0, 0.0]), 1),
    "multinomial_too_many": lambda lib: lib.multinomial(lib.tensor([1.0, 2.0]), 3),
    "multinomial_zero_samples": lambda lib: lib.multinomial(lib.tensor([1.0, 2.0]), 0),
    "multinomial_3d": lambda lib: lib.multinomial(lib.ones(2, 2, 2), 1),
    "multinomial_int_input": lambda lib: lib.multinomial(lib.tensor([1, 2]), 1),
    "multinomial_float_count": lambda lib: lib.multinomial(lib.tensor([1.0, 2.0]), 1.0),
    "randint_empty_range": lambda lib: lib.randint(5, 5, (3,)),
    "randint_float_bound": lambda lib: lib.randint(2.5, 5, (3,)),
    "randint_int_size": lambda lib: lib.randint(5, 3),
    "one_hot_float": lambda lib: lib.nn.functional.one_hot(lib.ones(3)),
    "one_hot_negative": lambda lib: lib.nn.functional.one_hot(lib.tensor([-1, 2])),
    "one_hot_too_big": lambda lib: lib.nn.functional.one_hot(lib.tensor([1, 2]), 2),
    "one_hot_float_classes": lambda lib: lib.nn.functional.one_hot(lib.tensor([1, 2]), 3.0),
    "one_hot_empty_infer": lambda lib: lib.nn.functional.one_hot(
        lib.tensor(np.zeros(0, np.int64))),
    "topk_k_too_big": lambda lib: lib.ones(3).topk(4),
    "topk_float_k": lambda lib: lib.ones(3).topk(2.0),
    "expand_bad_size": lambda lib: lib.ones(2, 3).expand(2, 4),
    "expand_too_few": lambda lib: lib.ones(2, 3).expand(3),
    "expand_leading_minus_one": lambda lib: lib.ones(3).expand(-1, 3),
    "repeat_too_few": lambda lib: lib.ones(2, 3).repeat(2),
    "masked_fill_float_mask": lambda lib: lib.ones(2, 3).masked_fill(lib.ones(2, 3), 0.0),
    "masked_fill_1d_value": lambda lib: lib.ones(3).masked_fill(
        lib.tensor([True, False, True]), lib.tensor([1.0])),
    "maximum_scalar": lambda lib: lib.maximum(lib.ones(3), 2.0),
    "mse_no_broadcast": lambda lib: lib.nn.functional.mse_loss(lib.ones(4, 2), lib.ones(3)),
    "soft_ce_int_probs": lambda lib: lib.nn.functional.cross_entropy(
        lib.zeros(4, 5), lib.ones(4, 5, dtype=lib.int64)),
    "soft_ce_ignore_index": lambda lib: lib.nn.functional.cross_entropy(
        lib.zeros(4, 5), lib.ones(4, 5) / 5, ignore_index=1),
    "orthogonal_1d": lambda lib: lib.nn.init.orthogonal_(lib.zeros(3)),
    "kaiming_bad_mode": lambda lib: lib.nn.init.kaiming_normal_(lib.zeros(3, 3), mode="fan"),
    "xavier_1d": lambda lib: lib.nn.init.xavier_normal_(lib.zeros(3)),
    "gain_unknown": lambda lib: lib.nn.init.calculate_gain("swish"),
}


def inputs(name, shapes):
    rng = np.random.default_rng(sum(name.encode()))
    return [rng.standard_normal(s) for s in shapes]


def optim_inputs():
    rng = np.random.default_rng(11)
    return rng.standard_normal(6), rng.standard_normal((8, 6))


def dtype_name(dt):
    return str(dt).replace("torch.", "")


def hook_weights():
    rng = np.random.default_rng(21)
    return {"0.weight": rng.standard_normal((4, 3)), "0.bias": rng.standard_normal(4),
            "2.weight": rng.standard_normal((2, 4)), "2.bias": rng.standard_normal(2)}


def hook_run(lib):
    """A Linear-Tanh-Linear net with every kind of module hook; returns (events, arrays):
    the order hooks ran in (with what they saw) and the gradients they were given."""
    net = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2)).double()
    net.load_state_dict({k: lib.tensor(v) for k, v in hook_weights().items()})
    events, arrays = [], {}

    def shape(x):
        return "None" if x is None else str(tuple(x.shape))

    def pre(name):
        def hook(m, args):
            events.append(f"{name}.forward_pre {[shape(a) for a in args]}")
        return hook

    def doubling_pre(m, args):  # replaces the input: the next layer sees 2x
        events.append("2.forward_pre (returns 2 * input)")
        return args[0] * 2.0

    def fwd(name):
        def hook(m, args, out):
            events.append(f"{name}.forward {shape(out)}")
            arrays[f"{name}.forward_out"] = np.array(out.detach().numpy())
        return hook

    def bw_pre(name):
        def hook(m, grad_output):
            events.append(f"{name}.backward_pre {[shape(g) for g in grad_output]}")
        return hook

    def bw(name):
        def hook(m, grad_input, grad_output):
            events.append(f"{name}.backward {[shape(g) for g in grad_input]} "
                          f"{[shape(g) for g in grad_output]}")
            for i, g in enumerate(grad_input):
                if g is not None:
                    arrays[f"{name}.grad_input{i}"] = np.array(g)
            for i, g in enumerate(grad_output):
                arrays[f"{name}.grad_output{i}"] = np.array(g)
        return hook

    def halving_bw(m, grad_input, grad_output):  # replaces grad_input: upstream sees half
        events.append("1.backward (returns half grad_input)")
        return tuple(g * 0.5 for g in grad_input)

    handles = []
    for name in ("0", "1", "2"):
        mod = net[int(name)]
        handles += [mod.register_forward_pre_hook(pre(name)), mod.register_forward_hook(fwd(name)),
                    mod.register_full_backward_pre_hook(bw_pre(name)),
                    mod.register_full_backward_hook(bw(name))]
    handles.append(net[2].register_forward_pre_hook(doubling_pre))
    handles.append(net[1].register_full_backward_hook(halving_bw, prepend=True))
    handles.append(net.register_forward_hook(fwd("net")))
    x = lib.tensor(np.linspace(-1.0, 1.0, 15).reshape(5, 3), requires_grad=True)
    (net(x) ** 2).sum().backward()
    arrays["x.grad"] = np.array(x.grad)
    for name, p in net.named_parameters():
        arrays[f"{name}.grad"] = np.array(p.grad)
    for h in handles:
        h.remove()
    events.append("-- after remove --")
    net(x).sum().backward()
    return events, arrays
