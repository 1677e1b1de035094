"""Bugs that PyTorch's own tests (and a PyTorch user) found; each test failed before its fix."""

import warnings

import numpy as np
import pytest

import tinyclipnn as tc
from tinyclipnn import nn, optim


def _randn(*shape):  # not tc.randn: these tests must fail on the code before the fixes
    return tc.Tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32))


# ---------------------------------------------------------------------------- recurrent layers
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_empty_batch_backward(cls, fused):
    layer = cls(3, 4, fused=fused, bidirectional=True)
    x = tc.Tensor(np.zeros((5, 0, 3), np.float32), requires_grad=True)
    y, _ = layer(x)
    assert y.shape == (5, 0, 8)  # PyTorch: (5, 0, 8)
    y.sum().backward()
    assert x.grad.shape == (5, 0, 3)
    for p in layer.parameters():
        assert p.grad is None or not p.grad.any()


@pytest.mark.parametrize("fused", [True, False])
def test_zero_length_sequence_is_rejected(fused):
    with pytest.raises(ValueError, match="Expected sequence length to be larger than 0 in RNN"):
        nn.LSTM(3, 4, fused=fused)(tc.Tensor(np.zeros((0, 2, 3), np.float32)))
    with pytest.raises(ValueError, match="Expected sequence length to be larger than 0 in RNN"):
        nn.GRU(3, 4, batch_first=True)(tc.Tensor(np.zeros((2, 0, 3), np.float32)))


@pytest.mark.parametrize("make, hx, match", [
    (lambda: nn.RNNCell(10, 20), lambda: _randn(1, 20),
     r"Input batch size 3 doesn't match hidden0 batch size 1"),
    (lambda: nn.GRUCell(10, 20), lambda: _randn(3, 21),
     r"hidden0 has inconsistent hidden_size: got 21, expected 20"),
    (lambda: nn.LSTMCell(10, 20), lambda: (_randn(3, 20), _randn(1, 20)),
     r"Input batch size 3 doesn't match hidden1 batch size 1"),
    (lambda: nn.LSTMCell(10, 20), lambda: (_randn(3, 20),),
     r"hx must be a tuple \(h, c\)"),
    (lambda: nn.RNNCell(10, 20), lambda: _randn(20),
     r"hidden0 must be 2-D"),
])
def test_cells_reject_wrong_state_shapes(make, hx, match):
    with pytest.raises(ValueError, match=match):
        make()(_randn(3, 10), hx())


def test_cell_input_size_message_is_pytorchs():
    with pytest.raises(ValueError, match="input has inconsistent input_size: got 11 expected 10"):
        nn.RNNCell(10, 20)(_randn(3, 11))


# ---------------------------------------------------------------------------- tensors
def test_eq_and_ne_are_elementwise_and_hash_is_identity():
    x = tc.tensor([1.0, 2.0, 3.0])
    assert (x == 1.0).tolist() == [True, False, False]
    assert (x != 1.0).tolist() == [False, True, True]
    assert (x == tc.tensor([1.0, 0.0, 3.0])).tolist() == [True, False, True]
    pred, y = tc.tensor([0, 1, 2, 1]), tc.tensor([0, 1, 1, 1])
    assert (pred == y).float().mean().item() == 0.75
    a, b = tc.tensor([1.0]), tc.tensor([1.0])
    assert len({a, b}) == 2 and {a: 1}[a] == 1
    assert a in [a] and hash(a) != hash(b)


def test_integer_tensor_times_python_float_promotes():
    x = tc.tensor(np.array([1, 2, 3]))
    assert (x * 0.5).dtype == np.float32
    np.testing.assert_array_equal((x * 0.5).numpy(), [0.5, 1.0, 1.5])
    assert (x + 1).dtype == np.int64
    assert (x / 2).dtype == np.float32  # true division of integers gives the default float
    assert (tc.tensor([True, False]) + 1).dtype == np.int64


# ---------------------------------------------------------------------------- nn
def test_python_list_of_layers_needs_modulelist():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])

    assert [n for n, _ in Net().named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]


# ---------------------------------------------------------------------------- optim
def test_sgd_duplicate_parameters_warn():
    p = nn.Parameter(np.zeros(2))
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([p, p], lr=0.1)


@pytest.mark.parametrize("make, exc, match", [
    (lambda p: optim.Adam([p], betas=(0.9,)), ValueError, "betas"),
    (lambda p: optim.Adam([p], betas=(0.9, 1.5)), ValueError, "betas"),
    (lambda p: optim.SGD([p], lr="0.1"), TypeError, "lr"),
    (lambda p: optim.Adam([p], eps="1e-8"), TypeError, "eps"),
    (lambda p: optim.SGD([p], lr=-1.0), ValueError, "Invalid learning rate"),
])
def test_optimizer_arguments_checked_at_construction(make, exc, match):
    with pytest.raises(exc, match=match):
        make(nn.Parameter(np.zeros(2)))


def test_stacked_schedulers_compose():
    opt = optim.SGD([nn.Parameter(np.zeros(1))], lr=1.0)
    s1 = optim.lr_scheduler.StepLR(opt, 3, 0.1)
    s2 = optim.lr_scheduler.ExponentialLR(opt, 0.9)
    for _ in range(3):
        opt.step()
        s1.step()
        s2.step()
    np.testing.assert_allclose(opt.param_groups[0]["lr"], 0.1 * 0.9 ** 3, rtol=1e-12)
    assert s2.get_last_lr() == [opt.param_groups[0]["lr"]]


def test_scheduler_state_dict_is_complete_and_load_leaves_lr():
    opt = optim.SGD([nn.Parameter(np.zeros(1))], lr=1.0)
    s = optim.lr_scheduler.StepLR(opt, 3, 0.5)
    for _ in range(4):
        opt.step()
        s.step()
    state = s.state_dict()
    assert state["step_size"] == 3 and state["gamma"] == 0.5 and state["last_epoch"] == 4
    opt2 = optim.SGD([nn.Parameter(np.zeros(1))], lr=1.0)
    s2 = optim.lr_scheduler.StepLR(opt2, 10, 0.9)
    s2.load_state_dict(state_dict=state)
    assert opt2.param_groups[0]["lr"] == 1.0  # PyTorch leaves the optimizer alone
    assert s2.step_size == 3 and s2.get_last_lr() == [0.5]
    opt2.param_groups[0]["lr"] = 123.0
    assert s2.get_last_lr() == [0.5]  # the scheduler's record, not the optimizer's field


# ---------------------------------------------------------------------------- argument checks
@pytest.mark.parametrize("make, exc, match", [
    (lambda: nn.LSTM(4, "8"), TypeError, "hidden_size must be an integer >= 1, got str"),
    (lambda: nn.Linear(-1, 3), ValueError, "in_features"),
    (lambda: nn.Linear(3, 2.5), TypeError, "out_features"),
    (lambda: nn.LSTM(3, 4, dtype=np.int32), TypeError, "dtype"),
    (lambda: nn.RNNCell(3, 0), ValueError, "hidden_size"),
    (lambda: nn.Embedding(-2, 3), ValueError, "num_embeddings"),
])
def test_layer_arguments_name_the_argument(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_forward_arguments_name_the_argument():
    lstm = nn.LSTM(3, 4)
    x = _randn(5, 2, 3)
    with pytest.raises(ValueError, match="lengths"):
        lstm(x, lengths=["a", "b"])
    with pytest.raises(ValueError, match=r"hx must be a tuple \(h_0, c_0\)"):
        lstm(x, (tc.Tensor(np.zeros((1, 2, 4), np.float32)),))
    with pytest.raises(ValueError, match=r"Expected hidden\[1\] size \(1, 2, 4\), got \[1, 3, 4\]"):
        lstm(x, (_randn(1, 2, 4), _randn(1, 3, 4)))
    with pytest.raises(ValueError, match=r"Expected hidden size \(1, 2, 4\), got \[1, 3, 4\]"):
        nn.GRU(3, 4)(x, _randn(1, 3, 4))


def _half_dtypes():
    out = [np.float16]
    try:
        import ml_dtypes

        out.append(ml_dtypes.bfloat16)
    except ImportError:  # the bf16 extra is optional
        pass
    return out


@pytest.mark.parametrize("dtype", _half_dtypes())
@pytest.mark.parametrize("make, call", [
    (lambda: nn.Linear(3, 4), lambda m: m(tc.Tensor(np.zeros((2, 3), np.float32)))),
    (lambda: nn.Embedding(5, 3), lambda m: m(np.array([1, 2]))),
    (lambda: nn.LSTM(3, 4), lambda m: m(tc.Tensor(np.zeros((2, 1, 3), np.float32)))),
    (lambda: nn.RNN(3, 4, fused=False), lambda m: m(tc.Tensor(np.zeros((2, 1, 3), np.float32)))),
    (lambda: nn.GRU(3, 4), lambda m: m(tc.Tensor(np.zeros((2, 1, 3), np.float32)))),
    (lambda: nn.RNNCell(3, 4), lambda m: m(tc.Tensor(np.zeros((2, 3), np.float32)))),
    (lambda: nn.LSTMCell(3, 4), lambda m: m(tc.Tensor(np.zeros((2, 3), np.float32)))),
    (lambda: nn.GRUCell(3, 4), lambda m: m(tc.Tensor(np.zeros((2, 3), np.float32)))),
    (lambda: nn.LayerNorm(3), lambda m: m(tc.Tensor(np.zeros((2, 3), np.float32)))),
], ids=["Linear", "Embedding", "LSTM", "RNN", "GRU", "RNNCell", "LSTMCell", "GRUCell",
        "LayerNorm"])
def test_half_precision_layers_give_a_clear_error(make, call, dtype):
    m = make().to(dtype)
    name, dt = type(m).__name__, np.dtype(dtype)
    with pytest.raises(TypeError, match=rf"{name}: parameters are {dt}; .*float32, float64"):
        call(m)


def test_module_to_rejects_non_float_dtypes():
    with pytest.raises(TypeError, match="dtype"):
        nn.Linear(2, 2).to(np.int32)


def test_no_warning_for_distinct_parameters():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optim.SGD([nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(2))], lr=0.1)


# ---------------------------------------------------------------------------- ported from PyTorch
def test_rnn_args_check_ported():
    """PyTorch's test_nn.test_rnn_args_check (RuntimeError there, ValueError here)."""
    input_size, hidden_size, num_layers, batch_size, seq_len, bad = 3, 5, 2, 4, 6, 7
    good_in, good_h = (seq_len, batch_size, input_size), (num_layers, batch_size, hidden_size)

    def update(shape, dim, size):
        return tuple(size if i == dim else s for i, s in enumerate(shape))

    def inputs(in_shape, h_shape, mode):
        x, h = _randn(*in_shape), _randn(*h_shape)
        if mode != "LSTM":
            return [(x, h)]
        if h_shape == good_h:
            return [(x, (h, h))]
        ok = _randn(*good_h)
        return [(x, (h, ok)), (x, (ok, h))]

    for mode in ("RNN", "GRU", "LSTM"):
        for in_shape, h_shape in [(update(good_in, 1, bad), good_h), (good_in, update(good_h, 1, bad)),
                                  (update(good_in, 2, bad), good_h), (good_in, update(good_h, 2, bad)),
                                  (good_in, update(good_h, 0, bad))]:
            for x, hx in inputs(in_shape, h_shape, mode):
                model = getattr(nn, mode)(input_size, hidden_size, num_layers)
                with pytest.raises(ValueError):
                    model(x, hx)


def test_rnn_cell_no_broadcasting_ported():
    """PyTorch's test_nn.test_RNN_cell_no_broadcasting."""
    hidden_size, input_size = 20, 10

    def check_all(bad_hx, good_hx, x):
        for cell, hx in [(nn.RNNCell, bad_hx), (nn.GRUCell, bad_hx),
                         (nn.LSTMCell, (bad_hx, good_hx)), (nn.LSTMCell, (good_hx, bad_hx))]:
            with pytest.raises(ValueError):
                cell(input_size, hidden_size)(x, hx)

    x, good_hx = _randn(3, input_size), _randn(3, hidden_size)
    check_all(_randn(1, hidden_size), good_hx, x)  # hidden/input batch size
    check_all(_randn(3, 1), good_hx, x)  # hx's hidden_size vs the module's
    check_all(good_hx, good_hx, _randn(3, 1))  # input's input_size vs the module's
