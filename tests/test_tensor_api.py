"""The PyTorch-style Tensor API (sizes, conversions, min/max with indices, arg-reductions,
var/std, gather, clone, comparisons, type promotion, constructors) against PyTorch: live when
torch is importable, golden/tensor_api.npz otherwise; gradients of the new ops by gradcheck."""

import os
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinyclipnn as tc
from tinyclipnn.autograd import gradcheck

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "golden"))
from tensor_api_cases import (  # noqa: E402
    COMPOSITIONS,
    IDX,
    VALUES,
    dtype_name,
    inputs,
    promotion_table,
)

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "golden", "tensor_api.npz"))


def _ours(name):
    fn, shapes = COMPOSITIONS[name]
    ts = [tc.Tensor(x, requires_grad=True) for x in inputs(name, shapes)]
    y = fn(tc, *ts)
    y.backward(np.ones(y.shape, y.dtype))
    return y.data, [t.grad for t in ts]


def _theirs_golden(name):
    n = len(COMPOSITIONS[name][1])
    return GOLDEN[f"{name}/out"], [GOLDEN[f"{name}/grad{i}"] for i in range(n)]


def _theirs_live(torch, name):
    fn, shapes = COMPOSITIONS[name]
    ts = [torch.tensor(x, requires_grad=True) for x in inputs(name, shapes)]
    y = fn(torch, *ts)
    y.backward(torch.ones_like(y))
    return y.detach().numpy(), [t.grad.numpy() for t in ts]


def _compare(ours, theirs, name):
    tol = 1e-6 if "float" in name else 1e-12
    np.testing.assert_allclose(ours[0], theirs[0], rtol=tol, atol=tol, err_msg=name)
    for a, b in zip(ours[1], theirs[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=name)


@pytest.mark.parametrize("name", sorted(COMPOSITIONS))
def test_compositions_match_pytorch_golden(name):
    _compare(_ours(name), _theirs_golden(name), name)


@pytest.mark.parametrize("name", sorted(COMPOSITIONS))
def test_compositions_match_pytorch_live(name):
    torch = pytest.importorskip("torch")
    _compare(_ours(name), _theirs_live(torch, name), name)


def _value(y):
    return np.asarray(y.data), dtype_name(y.dtype)


@pytest.mark.parametrize("name", sorted(VALUES))
def test_values_and_dtypes_match_pytorch_golden(name):
    value, dtype = _value(VALUES[name](tc))
    assert dtype == str(GOLDEN[f"{name}/dtype"]), name
    np.testing.assert_allclose(value, GOLDEN[f"{name}/value"], rtol=1e-6, err_msg=name)


@pytest.mark.parametrize("name", sorted(VALUES))
def test_values_and_dtypes_match_pytorch_live(name):
    torch = pytest.importorskip("torch")
    value, dtype = _value(VALUES[name](tc))
    theirs = VALUES[name](torch)
    assert dtype == dtype_name(theirs.dtype), name
    np.testing.assert_allclose(value, theirs.numpy(), rtol=1e-6, err_msg=name)


def test_type_promotion_table_matches_pytorch_golden():
    assert promotion_table(tc) == list(GOLDEN["promotion_table"])


def test_type_promotion_table_matches_pytorch_live():
    torch = pytest.importorskip("torch")
    assert promotion_table(tc) == promotion_table(torch)


# ---------------------------------------------------------------------------- gradcheck (float64)
def _x(*shape, seed=0):
    return tc.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("fn", [
    lambda x: x.gather(1, tc.tensor(IDX)),
    lambda x: x.gather(0, tc.tensor(np.array([[2, 2, 0, 1]]))),
    lambda x: x.max(dim=1).values,
    lambda x: x.min(0, keepdim=True).values,
    lambda x: x.amin(1),
    lambda x: x.min(),
    lambda x: x.var(),
    lambda x: x.var(1, keepdim=True),
    lambda x: x.std(0, unbiased=False),
    lambda x: x.std(dim=(0, 1), correction=2),
    lambda x: x.clone() * x,
], ids=["gather1", "gather0", "max_dim", "min_dim", "amin", "min", "var", "var_dim", "std0",
        "std_corr2", "clone"])
def test_gradcheck_new_ops(fn):
    assert gradcheck(fn, [_x(3, 4, seed=3)])


def test_gradcheck_cast_through_float32():
    # linear, so a large step is exact; a tiny one would only measure float32 rounding
    assert gradcheck(lambda x: x.float().double() * 3.0, [_x(3, 4)], eps=1e-2, atol=1e-5)


def test_max_dim_gradient_goes_to_the_first_maximum():
    x = tc.tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]), requires_grad=True)
    values, indices = x.max(dim=1)
    values.sum().backward()
    assert indices.tolist() == [1, 0]
    np.testing.assert_array_equal(x.grad, [[0, 1, 0], [1, 0, 0]])
    x.grad = None
    x.amax(1).sum().backward()  # amax stays value-only: ties share the gradient
    np.testing.assert_array_equal(x.grad, [[0, 0.5, 0.5], [0.5, 0.5, 0]])


def test_sizes_and_conversions():
    x = tc.zeros(2, 3, 4)
    assert (x.numel(), x.dim(), x.size(), x.size(-1), x.size(0)) == (24, 3, (2, 3, 4), 4, 2)
    assert x.float() is x and x.double().dtype == np.float64 and x.long().dtype == np.int64
    assert x.to(tc.float64).dtype == tc.float64 and x.half().dtype == np.float16
    assert x.int().dtype == np.int32 and x.bool().dtype == np.bool_ and x.to("cpu") is x
    c = x.clone()
    c.data[0] = 1
    assert not x.data.any()
    assert tc.equal(tc.ones(2), tc.ones(2)) and not tc.ones(2).equal(tc.ones(3))


def test_constructors():
    tc.manual_seed(0)
    a = tc.randn(2, 3, requires_grad=True)
    tc.manual_seed(0)
    assert np.array_equal(a.data, tc.randn((2, 3)).data) and a.requires_grad
    r = tc.rand(1000)
    assert r.dtype == np.float32 and 0 <= r.data.min() and r.data.max() < 1
    arr = np.zeros(3, np.int16)
    t = tc.from_numpy(arr)
    t.data[1] = 5
    assert arr[1] == 5 and t.dtype == np.int16
    assert tc.empty(2, 2).shape == (2, 2) and tc.randn_like(tc.zeros(2, dtype=tc.float64)).dtype == tc.float64
    assert tc.rand_like(tc.zeros(3)).shape == (3,)


@pytest.mark.parametrize("make, exc, match", [
    (lambda: tc.zeros(2, -1), ValueError, "negative dimension"),
    (lambda: tc.ones(2.5), TypeError, "size must be integers"),
    (lambda: tc.arange(0, 5, 0), ValueError, "step must be nonzero"),
    (lambda: tc.from_numpy([1, 2]), TypeError, "np.ndarray"),
    (lambda: tc.zeros(3, 4).gather(1, tc.tensor(np.array([[0.5]]))), TypeError, "index"),
    (lambda: tc.zeros(3, 4).gather(1, tc.tensor(np.array([0]))), ValueError, "dims"),
    (lambda: tc.zeros(3, 4).gather(1, tc.tensor(np.array([[4]]))), ValueError, "does not fit"),
    (lambda: tc.zeros(0, 4).max(dim=0), ValueError, "empty"),
    (lambda: tc.zeros(3).var(unbiased=True, correction=1), ValueError, "either"),
])
def test_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_hash_by_identity_keeps_dicts_and_optimizer_state_working():
    params = [tc.nn.Parameter(np.zeros(2)) for _ in range(3)]
    opt = tc.optim.SGD(params, lr=0.1, momentum=0.9)
    for p in params:
        p.grad = np.ones(2)
    opt.step()
    assert len(opt.state) == 3 and all(p in opt.state for p in params)
    with pytest.raises(ValueError, match="ambiguous"):
        bool(params[0] == params[1])


# ---------------------------------------------------------------------------- hypothesis shapes
@settings(max_examples=40, deadline=None)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), data=st.data())
def test_hypothesis_selection_ops_match_numpy(shape, data):
    """max/min(dim), argmax/argmin, var/std and gather against numpy on random shapes
    (size-1 dims included), with gradcheck of the differentiable ones."""
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    keepdim = data.draw(st.booleans())
    x = tc.Tensor(np.random.default_rng(len(shape)).standard_normal(shape), requires_grad=True)
    values, indices = x.max(dim=dim, keepdim=keepdim)
    np.testing.assert_array_equal(values.data, x.data.max(dim, keepdims=keepdim))
    np.testing.assert_array_equal(indices.data, x.data.argmax(dim, keepdims=keepdim))
    np.testing.assert_array_equal(x.min(dim).indices.data, x.data.argmin(dim))
    np.testing.assert_array_equal(x.argmin(dim=dim).data, x.data.argmin(dim))
    correction = data.draw(st.sampled_from([0, 1]))
    if shape[dim] > correction:
        np.testing.assert_allclose(x.var(dim, correction=correction).data,
                                   x.data.var(dim, ddof=correction), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(x.std(dim, correction=correction, keepdim=keepdim).data,
                                   x.data.std(dim, ddof=correction, keepdims=keepdim),
                                   rtol=1e-12, atol=1e-14)
    idx_shape = tuple(data.draw(st.integers(1, s)) for s in shape)
    idx = np.random.default_rng(1).integers(0, shape[dim], idx_shape)
    np.testing.assert_array_equal(x.gather(dim, idx).data,
                                  np.take_along_axis(x.data[tuple(slice(0, s) if d != dim % len(shape)
                                                                  else slice(None)
                                                                  for d, s in enumerate(idx_shape))],
                                                     idx, dim))
    assert gradcheck(lambda a: a.max(dim=dim, keepdim=keepdim).values, [x])
    assert gradcheck(lambda a: a.gather(dim, idx), [x])
