"""gradcheck (float64 central differences) on every op: broadcasting both ways, keepdims,
negative axes, size-1 and empty dims; hypothesis-generated shapes for elementwise/reductions."""

import numpy as np
import pytest
from _helpers import t64
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinyclipnn as tc
from tinyclipnn.autograd import gradcheck

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
}
BROADCAST_PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((4,), (3, 4)), ((3, 1), (1, 4)),
                   ((2, 1, 4), (3, 1)), ((1,), (2, 3)), ((), (2, 3)), ((2, 3), ())]


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("sa,sb", BROADCAST_PAIRS)
def test_binary_broadcasting(name, sa, sb):
    positive = name in ("pow", "div")
    a, b = t64(*sa, seed=1, positive=positive), t64(*sb, seed=2, positive=positive)
    assert gradcheck(BINARY[name], [a, b])
    assert a.grad.shape == sa and b.grad.shape == sb


@pytest.mark.parametrize("op", ["add", "mul", "sub", "div"])
def test_scalar_operands_adopt_tensor_dtype(op):
    x = tc.tensor(np.ones(3, np.float32), requires_grad=True)
    f = BINARY[op]
    for y in (f(x, 2.5), f(2.5, x)):
        assert y.dtype == np.float32
    assert gradcheck(lambda a: f(a, 2.5) + f(3.0, a), [t64(3, positive=True)])


@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1.5, 0])
def test_pow_scalar(exponent):
    assert gradcheck(lambda a: a ** exponent, [t64(2, 3, positive=True)])


def test_rpow():
    assert gradcheck(lambda a: 2.0 ** a, [t64(4)])


UNARY = {
    "exp": (lambda a: a.exp(), False), "log": (lambda a: a.log(), True),
    "tanh": (lambda a: a.tanh(), False), "sigmoid": (lambda a: a.sigmoid(), False),
    "relu": (lambda a: a.relu(), False), "abs": (lambda a: a.abs(), False),
    "sqrt": (lambda a: a.sqrt(), True), "neg": (lambda a: -a, False),
    "clamp": (lambda a: a.clamp(-0.5, 0.7), False), "clamp_min": (lambda a: a.clamp(min=0.1), False),
    "softmax": (lambda a: a.softmax(-1), False), "log_softmax": (lambda a: a.log_softmax(0), False),
}


@pytest.mark.parametrize("name", list(UNARY))
@pytest.mark.parametrize("shape", [(5,), (2, 3), (1, 4), (3, 1, 2)])
def test_unary(name, shape):
    fn, positive = UNARY[name]
    x = t64(*shape, seed=3, positive=positive)
    if name in ("relu", "abs", "clamp", "clamp_min"):  # keep away from kinks
        x.data[np.abs(x.data) < 0.05] = 0.3
        x.data[np.abs(x.data - 0.7) < 0.05] = 0.2
        x.data[np.abs(x.data + 0.5) < 0.05] = 0.2
        x.data[np.abs(x.data - 0.1) < 0.05] = 0.3
    assert gradcheck(fn, [x])


def test_function_forms_match_methods():
    x = t64(3, 4)
    for name in ("exp", "tanh", "sigmoid", "relu", "abs"):
        np.testing.assert_array_equal(getattr(tc, name)(x).data, getattr(x, name)().data)
    np.testing.assert_array_equal(tc.softmax(x, 0).data, x.softmax(dim=0).data)
    np.testing.assert_array_equal(tc.sum(x, 1).data, x.sum(axis=1).data)


@pytest.mark.parametrize("red", ["sum", "mean", "amax"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, -2, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(red, axis, keepdims):
    x = t64(2, 3, 4, seed=4)
    assert gradcheck(lambda a: getattr(a, red)(axis=axis, keepdims=keepdims), [x])
    ref = getattr(np, {"amax": "max", "sum": "sum", "mean": "mean"}[red])(
        x.data, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(getattr(x, red)(axis=axis, keepdims=keepdims).data, ref)


def test_torch_style_keywords():
    x = t64(2, 3)
    np.testing.assert_array_equal(x.sum(dim=1, keepdim=True).data, x.data.sum(1, keepdims=True))


def test_max_splits_gradient_between_ties():
    x = tc.tensor(np.array([1.0, 3.0, 3.0, 2.0]), requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0, 0.5, 0.5, 0])


@pytest.mark.parametrize("shape,axis", [((0, 3), 1), ((0, 3), 0), ((2, 0), 0), ((1, 1), None)])
def test_empty_and_size_one_dims(shape, axis):
    x = t64(*shape)
    y = (x * 2.0 + 1.0).tanh().sum(axis=axis).sum()
    y.backward()
    assert x.grad.shape == shape
    np.testing.assert_allclose(x.grad, 2 * (1 - np.tanh(2 * x.data + 1) ** 2))
    if 0 not in shape:  # a mean over an empty axis is NaN: nothing to check numerically
        assert gradcheck(lambda a: a.mean(axis=axis), [t64(*shape)])


def test_mean_of_empty_is_nan_like_numpy():
    x = t64(0, 3)
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        assert np.isnan(x.mean().item())


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
                                   ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((1, 3, 4), (2, 4, 2)),
                                   ((3, 4), (2, 4, 5))])
def test_matmul(sa, sb):
    assert gradcheck(lambda a, b: a @ b, [t64(*sa, seed=5), t64(*sb, seed=6)])


def test_matmul_of_a_stack_by_a_matrix_is_one_gemm_with_the_same_results():
    """(..., M, K) @ (K, N) runs as one 2-D product over all rows (also for a transposed,
    non-contiguous stack): the values and gradients of numpy's stacked matmul."""
    rng = np.random.default_rng(0)
    base = rng.standard_normal((3, 2, 4, 5))
    for data in (base, base.transpose(1, 0, 2, 3)):
        a = tc.tensor(data, requires_grad=True)
        b = tc.tensor(rng.standard_normal((5, 3)), requires_grad=True)
        y = a @ b
        np.testing.assert_allclose(y.data, np.matmul(data, b.data), rtol=1e-13)
        g = rng.standard_normal(y.shape)
        y.backward(g)
        np.testing.assert_allclose(a.grad, g @ b.data.T, rtol=1e-13)
        np.testing.assert_allclose(b.grad, np.einsum("ijmk,ijmn->kn", data, g), rtol=1e-12)
        assert gradcheck(lambda p, q: p @ q, [tc.tensor(data, requires_grad=True),
                                               tc.tensor(b.data, requires_grad=True)])


def test_shape_ops():
    x = t64(2, 3, 4)
    assert gradcheck(lambda a: a.reshape(4, 6) * 1.5, [x])
    assert gradcheck(lambda a: a.reshape(-1), [x])
    assert gradcheck(lambda a: a.transpose(0, 2), [x])
    assert gradcheck(lambda a: a.permute(1, 2, 0), [x])
    assert gradcheck(lambda a: a.T, [x])
    assert gradcheck(lambda a: a.unsqueeze(1).squeeze(1), [x])
    assert x.transpose(0, 2).shape == (4, 3, 2)


@pytest.mark.parametrize("index", [
    1, -1, slice(1, None), (slice(None), 2), (Ellipsis, 1), (0, slice(None, None, 2)),
    (np.array([0, 1, 0]),), (np.array([1, 1, 1]), np.array([0, 2, 0])), np.array([True, False]),
    (slice(None), None, 1),
])
def test_indexing(index):
    x = t64(2, 3, 4, seed=7)
    assert gradcheck(lambda a: a[index], [x])
    np.testing.assert_array_equal(x[index].data, x.data[index])


def test_repeated_indices_scatter_add():
    x = tc.tensor(np.zeros(4), requires_grad=True)
    x[np.array([1, 1, 3, 1])].sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 3, 0, 1])


def test_index_with_tensor():
    x = t64(5)
    idx = tc.tensor(np.array([4, 0]))
    np.testing.assert_array_equal(x[idx].data, x.data[[4, 0]])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat_and_stack(axis):
    a, b, c = t64(2, 3, seed=1), t64(2, 3, seed=2), t64(2, 3, seed=3)
    assert gradcheck(lambda *xs: tc.concat(xs, axis=axis), [a, b, c])
    assert gradcheck(lambda *xs: tc.stack(xs, axis=axis), [a, b, c])
    d = t64(2, 1, seed=4)
    assert gradcheck(lambda x, y: tc.concat([x, y], dim=1), [a, d])


def test_where():
    cond = np.array([[True, False, True], [False, False, True]])
    a, b = t64(2, 3, seed=1), t64(3, seed=2)
    assert gradcheck(lambda x, y: tc.where(cond, x, y), [a, b])
    y = tc.where(cond, a, 0.0)
    np.testing.assert_array_equal(y.data, np.where(cond, a.data, 0.0))


def test_cross_entropy_gradcheck():
    logits = t64(5, 4, seed=9)
    target = np.array([0, 3, 1, 1, 2])
    for red in ("mean", "sum", "none"):
        assert gradcheck(lambda z, r=red: tc.nn.functional.cross_entropy(z, target, reduction=r),
                         [logits])
    assert gradcheck(lambda z: tc.nn.functional.cross_entropy(z, np.array([1, -100, 2, 0, -100])),
                     [logits])
    assert gradcheck(lambda z: tc.nn.functional.nll_loss(z.log_softmax(1), target), [logits])
    spatial = t64(2, 3, 4, seed=10)
    assert gradcheck(lambda z: tc.nn.functional.cross_entropy(z, np.array([[0, 1, 2, 0],
                                                                           [2, 2, 1, 0]])),
                     [spatial])
    assert gradcheck(lambda z: tc.nn.functional.cross_entropy(z, np.array(2)), [t64(4)])


def test_mse_loss_gradcheck():
    x, y = t64(3, 2, seed=1), t64(3, 2, seed=2)
    for red in ("mean", "sum", "none"):
        assert gradcheck(lambda a, b, r=red: tc.nn.functional.mse_loss(a, b, reduction=r), [x, y])


# ---- hypothesis: random shapes for elementwise and reduction ops ------------------------------
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)


@settings(max_examples=40, deadline=None)
@given(shape=shapes, data=st.data())
def test_hypothesis_elementwise(shape, data):
    bshape = data.draw(hnp.broadcastable_shapes(shape, min_dims=0, max_dims=3, max_side=4))
    a, b = t64(*shape, seed=1), t64(*bshape, seed=2)
    op = data.draw(st.sampled_from(["add", "sub", "mul"]))
    out = BINARY[op](a, b)
    np.testing.assert_allclose(out.data, BINARY[op](a.data, b.data))
    assert gradcheck(lambda x, y: (BINARY[op](x, y)).tanh(), [a, b])


@settings(max_examples=40, deadline=None)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), data=st.data())
def test_hypothesis_reductions(shape, data):
    ndim = len(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1)))
    keepdims = data.draw(st.booleans())
    red = data.draw(st.sampled_from(["sum", "mean", "amax"]))
    x = t64(*shape, seed=11)
    np.testing.assert_allclose(getattr(x, red)(axis=axis, keepdims=keepdims).data,
                               getattr(np, red)(x.data, axis=axis, keepdims=keepdims))
    assert gradcheck(lambda a: getattr(a, red)(axis=axis, keepdims=keepdims), [x])
