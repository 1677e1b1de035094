"""RNN / LSTM / GRU layers and cells: PyTorch's numbers (golden file and live torch), the fused
path against the composed-cell path, parameters, shapes and argument checking."""

import itertools
import os
import sys

import numpy as np
import pytest

import tinyclipnn as tc
from tinyclipnn import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "golden"))
from rnn_cases import CASES, build, run_ours, run_torch  # noqa: E402

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "golden", "rnn_golden.npz"))


def _assert_same(ours, ref, rtol, atol):
    assert set(ours) == set(ref)
    for k in ref:
        np.testing.assert_allclose(ours[k], ref[k], rtol=rtol, atol=atol, err_msg=k)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch_golden(name, fused):
    arrays = {k.split("/", 1)[1]: GOLDEN[k] for k in GOLDEN.files if k.startswith(name + "/")}
    inputs = {k: v for k, v in arrays.items() if k in build(name)}
    expected = {k: v for k, v in arrays.items() if k not in inputs}
    ours, _ = run_ours(name, inputs, fused=fused)
    _assert_same(ours, expected, rtol=1e-10, atol=1e-12)


def _live_cases():
    for mode, L, bi, bf, h0, bias, lens in itertools.product(
            ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"], [1, 2], [False, True], [False, True],
            [False, True], [True, False], [False, True]):
        if (L, bi, bf, h0, bias, lens).count(True) + (L == 2) > 3:
            continue  # keep the product small; CASES covers the big combinations
        case = {"mode": mode, "num_layers": L, "bidirectional": bi, "batch_first": bf,
                "h0": h0, "bias": bias}
        if lens:
            case["lengths"] = [2, 4, 1]
        yield pytest.param(case, id=f"{mode}-L{L}-bi{bi:d}-bf{bf:d}-h0{h0:d}-b{bias:d}-len{lens:d}")


@pytest.mark.parametrize("case", list(_live_cases()))
def test_matches_live_torch(case):
    pytest.importorskip("torch")
    inputs = build(case, seed=1)
    expected = run_torch(case, inputs)
    for fused in (True, False):
        ours, _ = run_ours(case, inputs, fused=fused)
        _assert_same(ours, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("clip", [None, ("value", 0.3), ("norm", 0.5)])
@pytest.mark.parametrize("name", ["rnn_tanh_2l_bi_h0", "lstm_2l_bi_bf_h0_lens",
                                  "gru_bi_lens_nobias", "rnn_relu_bf_nobias"])
def test_fused_matches_composed(name, clip, dtype, tol):
    """Outputs, every gradient and the recorded norms agree; clipping included."""
    inputs = build(name, seed=2)
    extra = {"record_grad_norms": True}
    if clip is not None:
        extra.update(bptt_clip=clip[1], bptt_clip_mode=clip[0])
    fused, mf = run_ours(name, inputs, fused=True, dtype=dtype, **extra)
    composed, mc = run_ours(name, inputs, fused=False, dtype=dtype, **extra)
    for k in composed:
        assert fused[k].dtype == dtype, k
    _assert_same(fused, composed, rtol=tol, atol=tol)
    assert set(mf.grad_norms) == set(mc.grad_norms) and mf.grad_norms
    for k in mf.grad_norms:
        np.testing.assert_allclose(mf.grad_norms[k], mc.grad_norms[k], rtol=tol, atol=tol)


@pytest.mark.parametrize("cls,G", [(nn.RNN, 1), (nn.LSTM, 4), (nn.GRU, 3)])
def test_parameters_names_shapes_and_init(cls, G):
    m = cls(5, 7, num_layers=2, bidirectional=True)
    names = [n for n, _ in m.named_parameters()]
    expect = [f"{w}_l{k}{s}" for k in (0, 1) for s in ("", "_reverse")
              for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert names == expect
    assert m.weight_ih_l0.shape == (G * 7, 5) and m.weight_ih_l1.shape == (G * 7, 14)
    assert m.weight_hh_l1_reverse.shape == (G * 7, 7) and m.bias_hh_l0.shape == (G * 7,)
    bound = 1 / np.sqrt(7)
    for p in m.parameters():
        assert p.dtype == np.float32 and np.all(np.abs(p.data) <= bound)
    allw = np.concatenate([p.data.ravel() for p in m.parameters()])
    assert allw.min() < -0.8 * bound and allw.max() > 0.8 * bound
    assert [n for n, _ in cls(3, 4, bias=False).named_parameters()] == ["weight_ih_l0",
                                                                        "weight_hh_l0"]


def test_unbatched_input_and_return_types():
    m = nn.LSTM(3, 4, num_layers=2)
    x = tc.Tensor(np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32))
    y, (h, c) = m(x)
    assert y.shape == (6, 4) and h.shape == (2, 4) and c.shape == (2, 4)
    yb, (hb, cb) = m(x.reshape(6, 1, 3))
    np.testing.assert_allclose(y.data, yb.data[:, 0], rtol=1e-6)
    g = nn.GRU(3, 4, batch_first=True, bidirectional=True)
    y, h = g(tc.Tensor(np.zeros((2, 6, 3), np.float32)))
    assert y.shape == (2, 6, 8) and h.shape == (2, 2, 4)


def test_cells_match_layer_step():
    rng = np.random.default_rng(0)
    for cell_cls, layer_cls in [(nn.RNNCell, nn.RNN), (nn.LSTMCell, nn.LSTM), (nn.GRUCell, nn.GRU)]:
        layer = layer_cls(3, 4, dtype=np.float64)
        cell = cell_cls(3, 4, dtype=np.float64)
        cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
        x = rng.standard_normal((2, 3))
        y, _ = layer(tc.Tensor(x[None]))
        out = cell(tc.Tensor(x))
        h = out[0] if isinstance(out, tuple) else out
        np.testing.assert_allclose(h.data, y.data[0], rtol=1e-12)
        h1 = cell(tc.Tensor(x[0]))
        assert (h1[0] if isinstance(h1, tuple) else h1).shape == (4,)


def test_dropout_between_layers_train_only():
    m = nn.GRU(3, 8, num_layers=3, dropout=0.5, dtype=np.float64)
    x = tc.Tensor(np.random.default_rng(0).standard_normal((5, 2, 3)))
    tc.manual_seed(1)
    y1, _ = m(x)
    tc.manual_seed(2)
    y2, _ = m(x)
    assert not np.allclose(y1.data, y2.data)
    m.fused = False
    tc.manual_seed(1)
    y3, _ = m(x)
    np.testing.assert_allclose(y1.data, y3.data, rtol=1e-12)  # same masks, same numbers
    m.eval()
    ya, _ = m(x)
    m.dropout = 0.0
    yb, _ = m(x)
    np.testing.assert_array_equal(ya.data, yb.data)


def test_no_grad_forward_and_state_dict_roundtrip():
    m = nn.LSTM(2, 3)
    with tc.no_grad():
        y, (h, c) = m(tc.Tensor(np.ones((4, 1, 2), np.float32)))
    assert not y.requires_grad
    m2 = nn.LSTM(2, 3)
    m2.load_state_dict(m.state_dict())
    y2, _ = m2(tc.Tensor(np.ones((4, 1, 2), np.float32)))
    np.testing.assert_array_equal(y.data, y2.data)


def test_argument_errors():
    for bad in ("gelu", "Sigmoid", None):
        with pytest.raises(ValueError, match="nonlinearity must be 'tanh', 'relu' or 'sigmoid'"):
            nn.RNN(2, 3, nonlinearity=bad)
        with pytest.raises(ValueError, match="nonlinearity"):
            nn.RNNCell(2, 3, nonlinearity=bad)
    with pytest.raises(ValueError, match="bptt_clip_mode"):
        nn.LSTM(2, 3, bptt_clip=1.0, bptt_clip_mode="max")
    with pytest.raises(ValueError, match="bptt_clip"):
        nn.LSTM(2, 3, bptt_clip=-1.0)
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(2, 3, dropout=1.5)
    m = nn.GRU(2, 3, num_layers=2)
    x = tc.Tensor(np.zeros((4, 2, 2), np.float32))
    with pytest.raises(ValueError, match="features"):
        m(tc.Tensor(np.zeros((4, 2, 5), np.float32)))
    with pytest.raises(ValueError, match="h0 must have shape"):
        m(x, tc.Tensor(np.zeros((1, 2, 3), np.float32)))
    with pytest.raises(ValueError, match="lengths"):
        m(x, lengths=[4, 5])
    with pytest.raises(ValueError, match="lengths"):
        m(x, lengths=[1, 2, 3])
