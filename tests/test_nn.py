"""nn: registration, state dicts, layer init ranges, Embedding/Dropout, losses in closed form."""

import math

import numpy as np
import pytest

import tinyclipnn as tc
from tinyclipnn import nn
from tinyclipnn.nn import functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2, bias=False))
        self.emb = nn.Embedding(5, 3, padding_idx=0)
        self.register_buffer("steps", np.zeros(1))

    def forward(self, idx):
        return self.body(self.emb(idx))


def test_named_parameters_follow_pytorch_names():
    names = [n for n, _ in Net().named_parameters()]
    assert names == ["body.0.weight", "body.0.bias", "body.2.weight", "emb.weight"]
    assert [n for n, _ in Net().named_children()] == ["body", "emb"]


def test_state_dict_round_trip_and_checks():
    a, b = Net(), Net()
    sd = a.state_dict()
    assert set(sd) == {"body.0.weight", "body.0.bias", "body.2.weight", "emb.weight", "steps"}
    b.load_state_dict(sd)
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    before = b.state_dict()
    bad = dict(sd)
    bad["body.0.weight"] = np.zeros((9, 9))
    with pytest.raises(ValueError, match="shape"):
        b.load_state_dict(bad)
    for k, v in b.state_dict().items():  # nothing written on failure
        np.testing.assert_array_equal(v, before[k])
    del bad["body.0.weight"]
    with pytest.raises(KeyError, match="missing"):
        b.load_state_dict(bad)
    res = b.load_state_dict({**sd, "extra": np.ones(1)}, strict=False)
    assert res.unexpected_keys == ["extra"]


def test_load_keeps_parameter_dtype_and_object():
    lin = nn.Linear(2, 2)
    w = lin.weight
    data_obj = w.data
    lin.load_state_dict({"weight": np.ones((2, 2), np.float64), "bias": np.zeros(2)})
    assert lin.weight is w and w.data is data_obj and w.dtype == np.float32


def test_linear_init_and_forward():
    tc.manual_seed(1)
    lin = nn.Linear(100, 50)
    bound = 1 / math.sqrt(100)
    assert np.abs(lin.weight.data).max() <= bound and np.abs(lin.bias.data).max() <= bound
    assert np.abs(lin.weight.data).max() > 0.9 * bound  # really uniform over the range
    assert lin.weight.dtype == np.float32
    x = tc.tensor(np.random.default_rng(0).standard_normal((7, 100)).astype(np.float32))
    np.testing.assert_allclose(lin(x).data, x.data @ lin.weight.data.T + lin.bias.data, rtol=1e-5)
    x3 = tc.tensor(np.ones((2, 3, 100), np.float32))
    assert lin(x3).shape == (2, 3, 50)


def test_linear_gradcheck_float64():
    lin = nn.Linear(3, 2, dtype=np.float64)
    x = tc.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    assert tc.gradcheck(lambda a, w, b: F.linear(a, w, b), [x, lin.weight, lin.bias])
    assert tc.gradcheck(lambda a, w: F.linear(a, w), [x, lin.weight])


@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_linear_on_3d_input_equals_2d_rows(layout):
    """A (B, T, I) input (contiguous, or a transposed view as a batch_first RNN gives) runs as
    one 2-D GEMM: output and every gradient equal the 2-D computation on its rows."""
    rng = np.random.default_rng(3)
    lin = nn.Linear(6, 5, dtype=np.float64)
    base = rng.standard_normal((4, 3, 6))
    data = base if layout == "contiguous" else np.ascontiguousarray(base.transpose(1, 0, 2))
    x3 = tc.tensor(data if layout == "contiguous" else data.transpose(1, 0, 2), requires_grad=True)
    assert x3.data.flags.c_contiguous == (layout == "contiguous")
    gy = rng.standard_normal((4, 3, 5))
    y3 = lin(x3)
    y3.backward(gy)
    g3 = (lin.weight.grad.copy(), lin.bias.grad.copy(), x3.grad.copy())
    lin.zero_grad()
    x2 = tc.tensor(base.reshape(12, 6), requires_grad=True)
    y2 = lin(x2)
    y2.backward(gy.reshape(12, 5))
    np.testing.assert_allclose(y3.data.reshape(12, 5), y2.data, rtol=1e-13, atol=1e-13)
    for got, want in zip(g3, (lin.weight.grad, lin.bias.grad, x2.grad.reshape(4, 3, 6)),
                         strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    t = tc.tensor(data if layout == "contiguous" else data.transpose(1, 0, 2), requires_grad=True)
    assert tc.gradcheck(lambda a, w, b: F.linear(a, w, b), [t, lin.weight, lin.bias])


def test_linear_empty_and_zero_feature_inputs():
    lin = nn.Linear(0, 3, dtype=np.float64)
    y = lin(tc.tensor(np.zeros((2, 4, 0)), requires_grad=True))
    np.testing.assert_array_equal(y.data, np.broadcast_to(lin.bias.data, (2, 4, 3)))
    y.sum().backward()
    assert lin.weight.grad.shape == (3, 0) and np.all(lin.bias.grad == 8)
    lin = nn.Linear(4, 3, dtype=np.float64)
    x = tc.tensor(np.zeros((0, 5, 4)), requires_grad=True)
    y = lin(x)
    assert y.shape == (0, 5, 3)
    y.sum().backward()
    assert x.grad.shape == (0, 5, 4) and not lin.weight.grad.any()


def test_embedding_lookup_padding_and_errors():
    emb = nn.Embedding(4, 2, padding_idx=1)
    assert not emb.weight.data[1].any()
    idx = np.array([[0, 1], [1, 3]])
    out = emb(idx)
    np.testing.assert_array_equal(out.data, emb.weight.data[idx])
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad[:, 0], [1, 0, 0, 1])
    with pytest.raises(IndexError, match="indices"):
        emb(np.array([4]))
    with pytest.raises(TypeError, match="integers"):
        emb(np.array([0.5]))


@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_backward_sums_repeated_indices_as_add_at(padding_idx):
    """The grouped (sort + reduceat) scatter-add equals ``np.add.at``, for repeated, unsorted,
    missing and padding indices, a non-contiguous incoming gradient and no indices at all."""
    rng = np.random.default_rng(4)
    emb = nn.Embedding(7, 5, padding_idx=padding_idx, dtype=np.float64)
    idx = rng.integers(0, 6, (6, 9))  # index 6 never appears
    out = emb(idx)
    g = rng.standard_normal((9, 6, 5)).transpose(1, 0, 2)  # (6, 9, 5), not contiguous
    out.backward(g)
    want = np.zeros((7, 5))
    np.add.at(want, idx.reshape(-1), g.reshape(-1, 5))
    if padding_idx is not None:
        want[padding_idx] = 0
    np.testing.assert_allclose(emb.weight.grad, want, rtol=1e-12, atol=1e-12)
    emb.zero_grad()
    emb(np.zeros((0, 3), np.int64)).sum().backward()
    assert emb.weight.grad.shape == (7, 5) and not emb.weight.grad.any()
    from tinyclipnn.nn.layers import _EmbeddingFn

    assert tc.gradcheck(lambda w: _EmbeddingFn.apply(w, idx=idx[:2], padding_idx=None),
                        [emb.weight])


def test_dropout_train_and_eval():
    d = nn.Dropout(0.25)
    x = tc.tensor(np.ones((200, 200)))
    y = d(x).data
    assert set(np.unique(y)) <= {0.0, 1 / 0.75}
    assert abs((y == 0).mean() - 0.25) < 0.02
    d.eval()
    assert d(x) is x
    with pytest.raises(ValueError, match="p must be"):
        nn.Dropout(1.5)


def test_train_eval_propagates():
    n = Net().eval()
    assert not any(m.training for m in n.modules())
    n.train()
    assert all(m.training for m in n.modules())


def test_cross_entropy_matches_closed_form():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 4))
    t = np.array([0, 1, 2, 3, -100, 1])
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    picked = -logp[np.arange(6), np.where(t < 0, 0, t)]
    valid = t >= 0
    out = F.cross_entropy(tc.tensor(z), t)
    np.testing.assert_allclose(out.item(), picked[valid].mean())
    np.testing.assert_allclose(F.cross_entropy(tc.tensor(z), t, reduction="sum").item(),
                               picked[valid].sum())
    none = F.cross_entropy(tc.tensor(z), t, reduction="none").data
    np.testing.assert_allclose(none, np.where(valid, picked, 0))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(tc.tensor(z), t, reduction="avg")
    with pytest.raises(ValueError, match="shape"):
        F.cross_entropy(tc.tensor(z), t[:3])
    with pytest.raises(IndexError, match="target values"):
        F.cross_entropy(tc.tensor(z), np.array([0, 1, 2, 9, 0, 0]))


def test_cross_entropy_is_stable_for_huge_logits():
    z = tc.tensor(np.array([[1000.0, 0.0], [0.0, -1000.0]]), requires_grad=True)
    loss = F.cross_entropy(z, np.array([0, 1]))
    assert np.isfinite(loss.item()) and abs(loss.item() - 500.0) < 1e-9
    loss.backward()
    assert np.isfinite(z.grad).all()


def test_mse_loss():
    a = tc.tensor(np.array([1.0, 2.0]))
    assert F.mse_loss(a, np.array([0.0, 0.0])).item() == 2.5
    assert F.mse_loss(a, np.array([0.0, 0.0]), reduction="sum").item() == 5.0


def test_module_to_double_and_zero_grad():
    n = nn.Linear(2, 2).double()
    assert n.weight.dtype == np.float64
    n(tc.tensor(np.ones((1, 2)))).sum().backward()
    assert n.weight.grad is not None
    n.zero_grad()
    assert n.weight.grad is None
    n(tc.tensor(np.ones((1, 2)))).sum().backward()
    n.zero_grad(set_to_none=False)
    assert n.weight.grad is not None and not n.weight.grad.any()


def test_repr_lists_children():
    assert "(0): Linear(in_features=3" in repr(Net())


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 2e-6), (np.float64, 1e-13)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_compiled_rows_agree_with_the_numpy_path(dtype, rtol, reduction,
                                                               monkeypatch):
    """Large (N, C) logits with every entry counted go through compiled rows (one pass each
    way): loss and gradient agree with the numpy path to rounding, NaN and inf included."""
    from tinyclipnn.nn import functional as Fn

    rng = np.random.default_rng(5)
    x = (rng.standard_normal((300, 120)) * 4).astype(dtype)
    x[7, 3], x[8, :] = np.nan, -np.inf
    x[9, 5] = np.inf
    t = rng.integers(0, 120, 300)
    g = rng.standard_normal(300).astype(dtype) if reduction == "none" else None

    def run():
        xt = tc.tensor(x, requires_grad=True)
        with np.errstate(invalid="ignore"):
            loss = F.cross_entropy(xt, t, reduction=reduction)
            loss.backward(g)
        return loss.data, xt.grad

    assert x.size >= Fn.ROW_KERNEL_MIN
    compiled = run()
    assert Fn._ROW_KERNELS and Fn._ROW_KERNELS[0] is not None
    monkeypatch.setattr(Fn, "ROW_KERNEL_MIN", 10**9)
    plain = run()
    for a, b in zip(compiled, plain, strict=True):
        assert a.dtype == b.dtype == dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-3, equal_nan=True)
    with pytest.raises(IndexError, match="target values"):
        F.cross_entropy(tc.tensor(x), np.full(300, 120))
