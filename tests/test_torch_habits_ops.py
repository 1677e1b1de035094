"""Issue 20, tensor level: maximum/minimum, max(a, b), the axis=/keepdims= spellings, topk,
expand, repeat, masked_fill, one_hot, randint, multinomial, inference_mode, soft-label cross
entropy, l1_loss and the errors PyTorch raises. Compared with PyTorch live when importable and
with golden/torch_habits.npz always; new gradients also by gradcheck."""

import os
import sys
import warnings

import numpy as np
import pytest

import tinyclipnn as tc
from tinyclipnn.autograd import gradcheck

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "golden"))
from torch_habits_cases import COMPOSITIONS, ERRORS, MASK, VALUES, dtype_name, inputs  # noqa: E402

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "golden", "torch_habits.npz"))


def _run(lib, name):
    fn, shapes = COMPOSITIONS[name]
    ts = [lib.tensor(x, requires_grad=True) for x in inputs(name, shapes)]
    y = fn(lib, *ts)
    y.backward(lib.ones_like(y))
    return np.asarray(y.detach().numpy()), [np.asarray(t.grad) for t in ts]


def _compare(ours, theirs, name):
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, atol=1e-13, err_msg=name)
    for a, b in zip(ours[1], theirs[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("name", sorted(COMPOSITIONS))
def test_compositions_match_pytorch_golden(name):
    n = len(COMPOSITIONS[name][1])
    golden = (GOLDEN[f"comp/{name}/out"], [GOLDEN[f"comp/{name}/grad{i}"] for i in range(n)])
    _compare(_run(tc, name), golden, name)


@pytest.mark.parametrize("name", sorted(COMPOSITIONS))
def test_compositions_match_pytorch_live(name):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _compare(_run(tc, name), _run(torch, name), name)


@pytest.mark.parametrize("name", sorted(VALUES))
def test_values_and_dtypes_match_pytorch_golden(name):
    y = VALUES[name](tc)
    assert dtype_name(y.dtype) == str(GOLDEN[f"value/{name}/dtype"]), name
    np.testing.assert_array_equal(y.numpy(), GOLDEN[f"value/{name}/value"], err_msg=name)


@pytest.mark.parametrize("name", sorted(VALUES))
def test_values_and_dtypes_match_pytorch_live(name):
    torch = pytest.importorskip("torch")
    ours, theirs = VALUES[name](tc), VALUES[name](torch)
    assert dtype_name(ours.dtype) == dtype_name(theirs.dtype), name
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=name)


def _caught_as(builtin_name, fn):
    """Run ``fn(tc)``; it must raise something ``except <builtin_name>`` catches."""
    cls = {"RuntimeError": RuntimeError, "ValueError": ValueError, "TypeError": TypeError,
           "IndexError": IndexError, "AttributeError": AttributeError}[builtin_name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(cls):
            fn(tc)


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_are_caught_as_pytorch_golden(name):
    _caught_as(str(GOLDEN[f"error/{name}"]), ERRORS[name])


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_are_caught_as_pytorch_live(name):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ERRORS[name](torch)
        except Exception as e:
            builtin = next(c for c in type(e).__mro__ if c.__module__ == "builtins")
        else:
            pytest.fail(f"{name}: torch raised nothing")
    _caught_as(builtin.__name__, ERRORS[name])


def test_input_error_is_both_runtime_and_value_error():
    assert issubclass(tc.InputError, RuntimeError) and issubclass(tc.InputError, ValueError)
    with pytest.raises(ValueError):  # existing `except ValueError` code keeps working
        tc.nn.LSTM(3, 4)(tc.zeros(5, 2, 4))
    with pytest.raises(RuntimeError, match="broadcast"):  # numpy's shape errors, via any op
        tc.ones(2, 3) + tc.ones(4)


@pytest.mark.parametrize("name,dtypes", [
    ("linear_float64_input", ("float64", "float32")),
    ("lstm_float64_input", ("float64", "float32")),
    ("lstm_float64_c0", ("float64", "float32")),
    ("grucell_float64_input", ("float64", "float32")),
    ("linear_int_input", ("int64", "float32")),
])
def test_dtype_mismatch_message_names_both_dtypes(name, dtypes):
    with pytest.raises(tc.InputError) as info:
        ERRORS[name](tc)
    assert all(d in str(info.value) for d in dtypes), str(info.value)


def test_float64_model_still_takes_float64_input():
    lin = tc.nn.Linear(3, 2).double()
    assert lin(tc.zeros(4, 3, dtype=tc.float64)).dtype == np.float64
    lstm = tc.nn.LSTM(3, 4).double()
    out, (h, c) = lstm(tc.zeros(5, 2, 3, dtype=tc.float64),
                       (tc.zeros(1, 2, 4, dtype=tc.float64), tc.zeros(1, 2, 4, dtype=tc.float64)))
    assert out.dtype == h.dtype == c.dtype == np.float64


# ------------------------------------------------------------------------------ gradcheck
def _x(*shape, seed=0):
    return tc.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("fn,shapes", [
    (lambda a, b: tc.maximum(a, b), [(3, 4), (4,)]),
    (lambda a, b: tc.minimum(a, b), [(3, 1), (1, 4)]),
    (lambda a: a.topk(3, dim=0).values, [(4, 3)]),
    (lambda a: a.topk(2, largest=False)[0], [(3, 5)]),
    (lambda a: a.expand(2, 3, 4), [(3, 1)]),
    (lambda a: a.repeat(2, 1, 3), [(2, 2)]),
    (lambda a: a.masked_fill(tc.tensor(MASK), 0.5), [(3, 4)]),
    (lambda a, v: a.masked_fill(tc.tensor(MASK[1]), v), [(3, 4), ()]),
    (lambda a, t: tc.nn.functional.cross_entropy(a, t.softmax(1), label_smoothing=0.1),
     [(4, 5), (4, 5)]),
    (lambda a, b: tc.nn.functional.l1_loss(a, b), [(3, 4), (3, 4)]),
], ids=["maximum", "minimum", "topk0", "topk_smallest", "expand", "repeat", "masked_fill",
        "masked_fill_value", "soft_ce", "l1"])
def test_gradcheck_new_ops(fn, shapes):
    assert gradcheck(fn, [_x(*s, seed=i) for i, s in enumerate(shapes)])


# ------------------------------------------------------------------------------ semantics
def test_max_min_accept_numpy_and_torch_spellings():
    x = tc.tensor(np.arange(12.0).reshape(3, 4))
    for call in (lambda: tc.max(x, dim=1, keepdim=True), lambda: tc.max(x, axis=1, keepdims=True),
                 lambda: tc.max(x, 1, True), lambda: x.max(dim=1, keepdim=True)):
        values, indices = call()
        assert values.shape == (3, 1) and indices.numpy().ravel().tolist() == [3, 3, 3]
    assert tc.sum(x, dim=0).shape == (4,) and tc.mean(x, axis=1, keepdims=True).shape == (3, 1)
    with pytest.raises(TypeError, match="not both"):
        tc.max(x, dim=1, axis=1)


def test_expand_is_a_view_and_repeat_a_copy():
    base = np.array([[1.0], [2.0]])
    x = tc.from_numpy(base)
    e, r = x.expand(2, 3), x.repeat(1, 3)
    base[0, 0] = 9.0
    assert e.numpy()[0].tolist() == [9.0] * 3 and r.numpy()[0].tolist() == [1.0] * 3


def test_inference_mode_records_no_graph_and_restores():
    w = tc.ones(3, requires_grad=True)
    with tc.inference_mode():
        assert tc.is_inference_mode_enabled() and not tc.is_grad_enabled()
        assert not (w * 2).requires_grad
        with tc.inference_mode(False):  # as PyTorch: off again, recording on
            assert tc.is_grad_enabled() and (w * 2).requires_grad
    assert tc.is_grad_enabled() and not tc.is_inference_mode_enabled()

    @tc.inference_mode
    def bare():
        return (w * 2).requires_grad

    @tc.inference_mode()
    def called():
        return (w * 2).requires_grad

    assert bare() is False and called() is False and tc.is_grad_enabled()
    with pytest.raises(KeyError), tc.inference_mode():  # restored after an exception too
        raise KeyError
    assert tc.is_grad_enabled()


def test_randint_forms_range_and_generator():
    a = tc.randint(3, 7, (2000,), generator=np.random.default_rng(1))
    b = tc.randint(3, 7, (2000,), generator=np.random.default_rng(1))
    assert a.dtype == np.int64 and a.equal(b)
    assert set(np.unique(a.numpy())) == {3, 4, 5, 6}
    assert tc.randint(5, (2, 3)).shape == (2, 3) and tc.randint(low=1, high=2, size=(4,)).equal(
        tc.ones(4, dtype=tc.int64))
    with pytest.raises(TypeError):
        tc.randint(2, 5.0, (3,))
    with pytest.raises(TypeError):
        tc.randint(5, (2.0, 3))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multinomial_with_replacement_follows_the_weights(seed):
    w = np.array([[1.0, 0.0, 3.0, 6.0], [5.0, 5.0, 0.0, 0.0]])
    n = 20000
    draws = tc.multinomial(tc.tensor(w), n, replacement=True,
                           generator=np.random.default_rng(seed)).numpy()
    assert draws.shape == (2, n) and draws.dtype == np.int64
    for row, weights in zip(draws, w, strict=True):
        freq = np.bincount(row, minlength=4) / n
        expected = weights / weights.sum()
        assert np.all(np.abs(freq - expected) < 4 * np.sqrt(expected * (1 - expected) / n) + 1e-12)
        assert np.all(freq[weights == 0] == 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multinomial_without_replacement_is_sequential_weighted_draws(seed):
    w = np.array([1.0, 2.0, 7.0, 0.0])
    n = 20000
    gen = np.random.default_rng(seed)
    draws = np.stack([tc.multinomial(tc.tensor(w), 2, generator=gen).numpy() for _ in range(n)])
    assert np.all(draws[:, 0] != draws[:, 1]) and not (draws == 3).any()
    p = w / w.sum()
    first = np.bincount(draws[:, 0], minlength=4) / n
    assert np.all(np.abs(first - p) < 4 * np.sqrt(p * (1 - p) / n) + 1e-12)
    # P(second = j) = sum_i p_i p_j / (1 - p_i)
    second_p = np.array([sum(p[i] * p[j] / (1 - p[i]) for i in range(3) if i != j)
                         for j in range(4)])
    second = np.bincount(draws[:, 1], minlength=4) / n
    assert np.all(np.abs(second - second_p) < 4 * np.sqrt(second_p * (1 - second_p) / n) + 1e-12)


def test_multinomial_at_temperature_samples_a_character():
    logits = tc.tensor([[2.0, 1.0, 0.1]])
    for temperature in (0.5, 1.0, 2.0):
        probs = (logits / temperature).softmax(-1)
        idx = tc.multinomial(probs, num_samples=1)
        assert idx.shape == (1, 1) and 0 <= idx.item() < 3
        assert probs.multinomial(2).shape == (1, 2)


def test_mse_and_l1_warn_on_broadcasting_target_as_pytorch():
    x = tc.ones(4, 1)
    for fn in (tc.nn.functional.mse_loss, tc.nn.functional.l1_loss, tc.nn.MSELoss(),
               tc.nn.L1Loss()):
        with pytest.warns(UserWarning, match="This will likely lead to incorrect results due to "
                                             "broadcasting"):
            fn(x, tc.ones(4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tc.nn.functional.mse_loss(x, tc.ones(4, 1))  # same shape: silent


def test_mse_warning_matches_pytorch_live():
    torch = pytest.importorskip("torch")
    with pytest.warns(UserWarning) as ours:
        tc.nn.functional.mse_loss(tc.ones(4, 1), tc.ones(4))
    with pytest.warns(UserWarning) as theirs:
        torch.nn.functional.mse_loss(torch.ones(4, 1), torch.ones(4))
    tail = "This will likely lead to incorrect results due to broadcasting. Please ensure " \
           "they have the same size."
    assert str(ours[0].message).endswith(tail) and str(theirs[0].message).endswith(tail)
    assert ours[0].filename == theirs[0].filename == __file__  # points at the caller


@pytest.mark.parametrize("call", [
    lambda: tc.ones(3).topk(np.float64(2.0)),
    lambda: tc.ones(2, 3).expand(2, 3.0),
    lambda: tc.ones(2, 3).repeat(1, 2.5),
    lambda: tc.ones(3).topk(1, dim=0.0),
    lambda: tc.multinomial(tc.ones(3), True),
    lambda: tc.nn.functional.one_hot(tc.tensor([1]), num_classes=True),
    lambda: tc.randint(0, 5, (True,)),
    lambda: tc.nn.Embedding(5, 3, padding_idx=1.0),
    lambda: tc.nn.functional.cross_entropy(tc.ones(2, 3), tc.tensor([0, 1]), ignore_index=1.5),
    lambda: tc.nn.NLLLoss(ignore_index=2.0)(tc.ones(2, 3), tc.tensor([0, 1])),
    lambda: tc.optim.lr_scheduler.StepLR(tc.optim.SGD([tc.nn.Parameter(np.ones(2))]), 2.5),
    lambda: tc.optim.lr_scheduler.StepLR(tc.optim.SGD([tc.nn.Parameter(np.ones(2))]), 2,
                                         last_epoch=0.5),
], ids=["topk_k", "expand", "repeat", "topk_dim", "multinomial_bool", "one_hot_bool", "randint",
        "padding_idx", "ignore_index", "nll_ignore_index", "step_size", "last_epoch"])
def test_integer_arguments_reject_non_integers_with_type_error(call):
    # ops and constructors share one wording ("k must be an integer, got float 2.0")
    with pytest.raises(TypeError, match=r"must be an integer"):
        call()
