"""Issue 20, module level: module hooks (order, replacement, handles), nn.utils (the clip
functions of tinyclipnn.clip with PyTorch's signatures, norms as numpy.float64,
parameters_to_vector), nn.init (kaiming_normal_, xavier_normal_, orthogonal_, calculate_gain).
Compared with PyTorch live when importable and with golden/torch_habits.npz always."""

import inspect
import os
import subprocess
import sys

import numpy as np
import pytest

import tinyclipnn as tc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "golden"))
from torch_habits_cases import GAINS, INITS, hook_run  # noqa: E402

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "golden", "torch_habits.npz"))


# ------------------------------------------------------------------------------ hooks
def _check_hooks(events, arrays, their_events, their_arrays):
    assert events == list(their_events)
    assert set(arrays) == set(their_arrays)
    for k, v in arrays.items():
        np.testing.assert_allclose(v, their_arrays[k], rtol=1e-12, atol=1e-12, err_msg=k)


def test_hooks_match_pytorch_golden():
    events, arrays = hook_run(tc)
    golden = {k[len("hooks/"):]: GOLDEN[k] for k in GOLDEN.files
              if k.startswith("hooks/") and k != "hooks/events"}
    _check_hooks(events, arrays, [str(e) for e in GOLDEN["hooks/events"]], golden)


def test_hooks_match_pytorch_live():
    torch = pytest.importorskip("torch")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's note about hooks on a module whose
        their_events, their_arrays = hook_run(torch)  # inputs need no gradient
    _check_hooks(*hook_run(tc), their_events, their_arrays)


def test_forward_hook_replaces_output_and_handle_removes():
    lin = tc.nn.Linear(2, 2)
    x = tc.ones(1, 2)
    plain = lin(x).numpy().copy()
    with lin.register_forward_hook(lambda m, args, out: out * 0.0):
        assert np.all(lin(x).numpy() == 0)
    np.testing.assert_array_equal(lin(x).numpy(), plain)
    h = lin.register_forward_pre_hook(lambda m, args: (args[0] * 2.0,))
    np.testing.assert_allclose(lin(x).numpy(), lin.forward(x * 2.0).numpy())
    h.remove()
    h.remove()  # twice is harmless
    np.testing.assert_array_equal(lin(x).numpy(), plain)


def test_forward_hooks_with_kwargs_prepend_and_always_call():
    order = []

    class Scale(tc.nn.Module):
        def forward(self, x, factor=1.0):
            if factor < 0:
                raise ValueError("negative")
            return x * factor

    m = Scale()
    m.register_forward_hook(lambda mod, args, out: order.append("second"))
    m.register_forward_hook(lambda mod, args, out: order.append("first"), prepend=True)
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": 3.0}),
                                with_kwargs=True)
    seen = []
    m.register_forward_hook(lambda mod, args, kwargs, out: seen.append(kwargs), with_kwargs=True)
    assert m(tc.ones(2), factor=5.0).numpy().tolist() == [3.0, 3.0]
    assert order == ["first", "second"] and seen == [{"factor": 3.0}]
    failing = Scale()
    called = []
    failing.register_forward_hook(lambda mod, args, out: called.append(out), always_call=True)
    with pytest.raises(ValueError):
        failing(tc.ones(2), -1.0)
    assert called == [None]


def test_full_backward_hook_replaces_grad_input():
    lin = tc.nn.Linear(3, 2)
    x = tc.ones(4, 3, requires_grad=True)
    lin(x).sum().backward()
    plain = x.grad.copy()
    x.grad = None
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0] * 10.0,))
    lin(x).sum().backward()
    np.testing.assert_allclose(x.grad, 10.0 * plain)
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="invalid number of grad_input"):
        lin(x).sum().backward()


def test_backward_hooks_on_lstm_see_nested_outputs_as_none():
    lstm = tc.nn.LSTM(3, 4)
    seen = []
    lstm.register_full_backward_hook(lambda m, gi, go: seen.append((gi, go)))
    x = tc.randn(5, 2, 3, requires_grad=True)
    out, (h, c) = lstm(x)
    (out.sum() + h.sum()).backward()
    (gi, go), = seen
    assert gi[0].shape == (5, 2, 3) and go[0].shape == (5, 2, 4) and go[1] is None
    with tc.no_grad():  # no graph: the hook has nothing to fire on
        lstm(x)
    assert len(seen) == 1


def test_module_without_hooks_stays_hook_free_after_removal():
    lin = tc.nn.Linear(2, 2)
    assert not lin._has_hooks()
    lin.register_full_backward_pre_hook(lambda m, go: None).remove()
    assert not lin._has_hooks()


# ------------------------------------------------------------------------------ nn.utils
def test_utils_clip_functions_are_the_clip_ones():
    for name in ("clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"):
        assert getattr(tc.nn.utils, name) is getattr(tc.clip, name)
        assert name in dir(tc.nn.utils)


def test_importing_tinyclipnn_does_not_load_clip_or_torch():
    code = ("import sys, tinyclipnn as tc; tc.nn.utils.parameters_to_vector; "
            "print('tinyclipnn.clip' in sys.modules, 'torch' in sys.modules, "
            "'numba' in sys.modules)")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120, check=True).stdout.split()
    assert out == ["False", "False", "False"]


def _signature_names(fn):
    return [p.name for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


@pytest.mark.parametrize("name", ["clip_grad_norm_", "clip_grad_value_", "get_total_norm",
                                  "clip_grads_with_norm_"])
def test_utils_signatures_take_pytorchs_positional_arguments(name):
    torch = pytest.importorskip("torch")
    ours = _signature_names(getattr(tc.nn.utils, name))
    theirs = _signature_names(getattr(torch.nn.utils, name))
    assert len(ours) == len(theirs)
    assert ours[1:] == theirs[1:]  # the first is "parameters" / "tensors" vs our "grads"


def _params():
    rng = np.random.default_rng(5)
    ps = [tc.nn.Parameter(rng.standard_normal(s).astype(np.float32)) for s in [(3, 4), (5,)]]
    for p in ps:
        p.grad = rng.standard_normal(p.shape).astype(np.float32)
    return ps


@pytest.mark.parametrize("foreach", [None, True, False])
def test_norms_are_numpy_float64_with_item(foreach):
    ps = _params()
    total = tc.nn.utils.get_total_norm([p.grad for p in ps], 2.0, False, foreach)
    n = tc.nn.utils.clip_grad_norm_(ps, 0.5, 2.0, False, foreach)
    assert type(n) is np.float64 and type(total) is np.float64 and isinstance(n, float)
    assert n.item() == float(n) == float(total) > 0.5
    tc.nn.utils.clip_grads_with_norm_(ps, 1.0, total, foreach)
    assert tc.nn.utils.clip_grad_value_(ps, 0.01, foreach) is None
    assert all(np.abs(p.grad).max() <= 0.01 for p in ps)
    report = tc.clip.ClipGradNorm(1.0)(_params())
    assert type(report.total_norm) is np.float64
    scaler = tc.clip.LossScaler(init_scale=1.0)
    assert type(scaler.unscale_and_clip_(_params(), 1.0)) is np.float64


def test_clip_grad_norm_matches_pytorch_live():
    torch = pytest.importorskip("torch")
    ps = _params()
    theirs = [torch.nn.Parameter(torch.tensor(p.data)) for p in ps]
    for p, q in zip(ps, theirs, strict=True):
        q.grad = torch.tensor(p.grad)
    n = tc.nn.utils.clip_grad_norm_(ps, 0.5, error_if_nonfinite=True, foreach=None)
    m = torch.nn.utils.clip_grad_norm_(theirs, 0.5, error_if_nonfinite=True, foreach=None)
    assert abs(n.item() - m.item()) < 1e-5
    for p, q in zip(ps, theirs, strict=True):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-6)


def test_clip_grad_norm_error_if_nonfinite():
    ps = _params()
    ps[0].grad[0, 0] = np.inf
    before = [p.grad.copy() for p in ps]
    with pytest.raises(RuntimeError):
        tc.nn.utils.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    for p, b in zip(ps, before, strict=True):
        np.testing.assert_array_equal(p.grad, b)


def test_parameters_to_vector_and_back_match_pytorch_semantics():
    model = tc.nn.Sequential(tc.nn.Linear(3, 4), tc.nn.Linear(4, 2))
    vec = tc.nn.utils.parameters_to_vector(model.parameters())
    assert vec.shape == (3 * 4 + 4 + 4 * 2 + 2,)
    grads = [p.grad for p in model.parameters()]
    tc.nn.utils.vector_to_parameters(vec * 2.0, model.parameters())
    np.testing.assert_allclose(tc.nn.utils.parameters_to_vector(model.parameters()).numpy(),
                               2 * vec.numpy())
    assert [p.grad for p in model.parameters()] == grads
    before = tc.nn.utils.parameters_to_vector(model.parameters()).numpy().copy()
    with pytest.raises(ValueError, match="elements"):
        tc.nn.utils.vector_to_parameters(tc.zeros(5), model.parameters())
    np.testing.assert_array_equal(tc.nn.utils.parameters_to_vector(model.parameters()).numpy(),
                                  before)
    with pytest.raises(TypeError):
        tc.nn.utils.vector_to_parameters(np.zeros(30), model.parameters())


# ------------------------------------------------------------------------------ init
def test_calculate_gain_matches_pytorch_golden():
    ours = [tc.nn.init.calculate_gain(n, p) for n, p in GAINS]
    np.testing.assert_allclose(ours, GOLDEN["gains"], rtol=1e-15)


@pytest.mark.parametrize("name", sorted(INITS))
def test_init_spread_matches_pytorch_golden(name):
    fn, kw, shape = INITS[name]
    t = tc.zeros(shape, dtype=tc.float64)
    out = getattr(tc.nn.init, fn)(t, generator=np.random.default_rng(3), **kw)
    assert out is t
    # both are sample std's of >= 30,000 draws: within 3% of each other
    np.testing.assert_allclose(t.numpy().std(), GOLDEN[f"init/{name}/std"], rtol=0.03)


@pytest.mark.parametrize("shape,gain", [((30, 20), 1.0), ((20, 30), 2.0), ((8, 3, 5), 0.5)])
def test_orthogonal_is_orthogonal(shape, gain):
    t = tc.nn.init.orthogonal_(tc.zeros(shape, dtype=tc.float64), gain=gain)
    w = t.numpy().reshape(shape[0], -1)
    small = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    np.testing.assert_allclose(small, gain**2 * np.eye(small.shape[0]), atol=1e-12)


def test_init_is_reproducible_with_manual_seed():
    for fn in ("kaiming_normal_", "xavier_normal_", "orthogonal_"):
        tc.manual_seed(4)
        a = getattr(tc.nn.init, fn)(tc.zeros(5, 6)).numpy().copy()
        tc.manual_seed(4)
        b = getattr(tc.nn.init, fn)(tc.zeros(5, 6)).numpy()
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["kaiming_normal_", "kaiming_uniform_", "xavier_normal_",
                                  "xavier_uniform_", "orthogonal_", "calculate_gain"])
def test_init_signatures_match_pytorch_live(name):
    torch = pytest.importorskip("torch")
    ours = inspect.signature(getattr(tc.nn.init, name)).parameters
    theirs = inspect.signature(getattr(torch.nn.init, name)).parameters
    assert list(ours) == list(theirs)
    for k in theirs:
        if theirs[k].default is not inspect.Parameter.empty:
            assert ours[k].default == theirs[k].default, k
