"""The backward engine: deep graphs, in-place accumulation, hooks, graph freeing, errors, dtypes."""

import numpy as np
import pytest

import tinyclipnn as tc
from tinyclipnn.autograd import Function, GradcheckError, gradcheck


def test_chain_of_20000_ops_needs_no_recursion():
    x = tc.tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(20000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.full(3, 1.0001 ** 20000), rtol=1e-10)


def test_shared_subexpression_gradient_sums():
    x = tc.tensor(np.array([2.0, -1.0]), requires_grad=True)
    y = x * x
    (y + y * 3.0).sum().backward()  # d/dx 4x^2 = 8x
    np.testing.assert_allclose(x.grad, 8 * x.data)


def test_gradients_accumulate_in_place_into_views():
    buf = np.zeros(7)
    a = tc.tensor(np.arange(3.0), requires_grad=True)
    b = tc.tensor(np.arange(4.0), requires_grad=True)
    a.grad, b.grad = buf[:3], buf[3:]
    ((a * 2.0).sum() + (b * b).sum()).backward()
    ((a * 2.0).sum()).backward()
    np.testing.assert_allclose(buf, [4, 4, 4, 0, 2, 4, 6])
    assert a.grad.base is buf and b.grad.base is buf


def test_zero_grad_keeps_views_and_drops_owned():
    buf = np.ones(3)
    a = tc.nn.Parameter(np.zeros(3))
    b = tc.nn.Parameter(np.zeros(2))
    a.grad, b.grad = buf, np.ones(2)
    a.grad = buf[:]  # a view
    tc.autograd.zero_grads([a, b])
    assert b.grad is None and a.grad is not None and not buf.any()


def test_float32_grads_stay_float32():
    x = tc.tensor(np.ones((2, 2), np.float32), requires_grad=True)
    w = tc.tensor(np.ones((2, 2), np.float64), requires_grad=True)
    (x @ w).sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float64


def test_default_dtype_rules():
    assert tc.tensor([1.0, 2.0]).dtype == np.float32
    assert tc.tensor([1, 2]).dtype.kind == "i"
    assert tc.tensor([1, 2], requires_grad=True).dtype == np.float32
    assert tc.tensor(np.ones(2, np.float64)).dtype == np.float64
    tc.set_default_dtype(np.float64)
    assert tc.tensor([1.0]).dtype == np.float64
    with pytest.raises(TypeError, match="float32 or float64"):
        tc.set_default_dtype(np.int32)


def test_backward_needs_scalar_or_matching_grad():
    x = tc.tensor(np.ones(3), requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    with pytest.raises(RuntimeError, match="shape"):
        y.backward(np.ones(4))
    y.backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(x.grad, [2, 4, 6])


def test_backward_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tc.tensor(np.ones(2)).sum().backward()


def test_graph_freed_unless_retained():
    x = tc.tensor(np.ones(2), requires_grad=True)
    y = (x.tanh() * 3.0).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * 3 * (1 - np.tanh(1.0) ** 2))
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_inplace_modification_of_saved_input_is_detected():
    w = tc.nn.Parameter(np.ones(3))
    loss = (w * w).sum()
    opt = tc.optim.SGD([w], lr=0.1)
    w.grad = np.ones(3)
    opt.step()  # modifies w in place before backward
    with pytest.raises(RuntimeError, match="inplace"):
        loss.backward()


def test_setitem_on_leaf_requiring_grad_raises():
    w = tc.nn.Parameter(np.ones(3))
    with pytest.raises(RuntimeError, match="in-place"):
        w[0] = 2.0
    with tc.no_grad():
        w[0] = 2.0
    assert w.data[0] == 2.0


def test_no_grad_and_detach():
    x = tc.tensor(np.ones(2), requires_grad=True)
    with tc.no_grad():
        y = x * 2.0
    assert not y.requires_grad and y.grad_fn is None
    z = (x * 2.0).detach()
    assert not z.requires_grad and z.is_leaf and np.shares_memory(z.data, x.data) is False
    assert tc.is_grad_enabled()


def test_register_hook_replaces_gradient_mid_backprop():
    x = tc.tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 10.0
    seen = []
    h.register_hook(lambda g: seen.append(g.copy()))
    h.register_hook(lambda g: np.clip(g, -1, 1))  # clip what flows on
    (h * h).sum().backward()
    np.testing.assert_allclose(seen[0], 2 * h.data)
    np.testing.assert_allclose(x.grad, [10.0, 10.0])


def test_hook_on_leaf_and_removal():
    x = tc.tensor(np.array([1.0, 2.0]), requires_grad=True)
    remove = x.register_hook(lambda g: g * 0.5)
    (x * 4.0).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 2.0])
    remove()
    x.grad = None
    (x * 4.0).sum().backward()
    np.testing.assert_allclose(x.grad, [4.0, 4.0])


def test_hook_shape_error():
    x = tc.tensor(np.ones(2), requires_grad=True)
    y = x * 2.0
    y.register_hook(lambda g: np.ones(3))
    with pytest.raises(RuntimeError, match="shape"):
        y.sum().backward()


def test_retain_grad_on_intermediate():
    x = tc.tensor(np.ones(2), requires_grad=True)
    y = x * 3.0
    y.retain_grad()
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad, 2 * y.data)


def test_needs_input_grad_skips_unneeded_work():
    calls = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, grad):
            calls.append(ctx.needs_input_grad)
            return None, grad

    a = tc.tensor(np.ones(2))
    b = tc.tensor(np.ones(2), requires_grad=True)
    Probe.apply(a, b).sum().backward()
    assert calls == [(False, True)]
    np.testing.assert_allclose(b.grad, 1)


def test_multi_output_function_unused_output_gets_zero():
    class Split(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2, a * 3

        @staticmethod
        def backward(ctx, g1, g2):
            return g1 * 2 + g2 * 3

    x = tc.tensor(np.ones(2), requires_grad=True)
    p, q = Split.apply(x)
    q.sum().backward()
    np.testing.assert_allclose(x.grad, [3, 3])


def test_gradcheck_catches_wrong_gradient():
    class Bad(Function):
        @staticmethod
        def forward(ctx, a):
            return a * a

        @staticmethod
        def backward(ctx, grad):
            return grad  # wrong: missing 2a

    with pytest.raises(GradcheckError, match="mismatch"):
        gradcheck(lambda a: Bad.apply(a), [tc.tensor(np.array([1.5, 2.0]), requires_grad=True)])
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda a: a * 2, [tc.tensor(np.ones(2, np.float32), requires_grad=True)])


def test_requires_grad_needs_float():
    with pytest.raises(TypeError, match="float"):
        tc.Tensor(np.arange(3), requires_grad=False).requires_grad_()


def test_comparisons_and_repr():
    x = tc.tensor(np.array([1.0, 3.0]))
    np.testing.assert_array_equal((x > 2).data, [False, True])
    assert x in [x] and "Tensor(" in repr(x)
    assert "grad_fn=<MulBackward>" in repr(tc.tensor([1.0], requires_grad=True) * 2)


def test_backward_refills_the_gradient_zero_grad_dropped_unless_someone_holds_it():
    """zero_grad(set_to_none=True) then backward refills the dropped array (same object, so the
    clip caches keyed on it hit), but never one the user still refers to: a kept gradient keeps
    its values, as in PyTorch."""
    lin = tc.nn.Linear(3, 2, dtype=np.float64)
    x1, x2 = tc.tensor(np.ones((4, 3))), tc.tensor(np.full((4, 3), 2.0))
    lin(x1).sum().backward()
    kept = lin.weight.grad
    kept_values = kept.copy()
    lin.zero_grad()
    assert lin.weight.grad is None
    lin(x2).sum().backward()
    assert lin.weight.grad is not kept
    np.testing.assert_array_equal(kept, kept_values)  # the user's array is untouched
    np.testing.assert_array_equal(lin.weight.grad, np.full((2, 3), 8.0))
    del kept
    first = lin.weight.grad
    address = first.ctypes.data
    del first
    lin.zero_grad()
    lin(x1).sum().backward()
    assert lin.weight.grad.ctypes.data == address  # refilled in place
    np.testing.assert_array_equal(lin.weight.grad, np.full((2, 3), 4.0))
    view = lin.weight.grad[0]  # a view holds its base: no refill
    lin.zero_grad()
    lin(x2).sum().backward()
    assert lin.weight.grad.ctypes.data != address and (view == 4.0).all()
    lin.zero_grad(set_to_none=False)
    assert (lin.weight.grad == 0).all()


def test_square_by_mul_gives_the_whole_gradient_once_and_distinct_tensors_keep_theirs():
    """``x * x`` backpropagates 2 * grad * x as one array (bit-identical to the sum of the two
    products); two tensors that merely share their data still get one gradient each."""
    rng = np.random.default_rng(0)
    x = tc.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    g = rng.standard_normal((3, 4)).astype(np.float32)
    (x * x).backward(g)
    np.testing.assert_array_equal(x.grad, g * x.data + g * x.data)
    a = tc.tensor(rng.standard_normal(5), requires_grad=True)
    b = tc.Tensor(a.data, requires_grad=True)  # same array, another tensor
    (a * b).sum().backward()
    np.testing.assert_array_equal(a.grad, b.data)
    np.testing.assert_array_equal(b.grad, a.data)
    assert gradcheck(lambda t: t * t, [tc.tensor(rng.standard_normal((2, 3)), requires_grad=True)])


def test_a_node_gradients_are_released_before_the_next_node_runs():
    """Two gradients a node returns for one tensor are summed, and the engine then drops
    them: they do not stay alive through the next node's backward (peak memory)."""
    import weakref

    refs = []

    class Twice(Function):  # f(a, b) = a + b, used as f(y, y)
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, grad):
            ga, gb = grad * 1.0, grad * 1.0
            refs.extend([weakref.ref(ga), weakref.ref(gb)])
            return ga, gb

    class Check(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 3.0

        @staticmethod
        def backward(ctx, grad):
            refs.append([r() is None for r in refs])
            return grad * 3.0

    x = tc.tensor(np.ones(4), requires_grad=True)
    y = Check.apply(x)
    Twice.apply(y, y).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full(4, 6.0))
    assert refs[-1] == [True, True]
