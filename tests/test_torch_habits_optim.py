"""Issue 20, optimizers: RMSprop and Adagrad against PyTorch (golden trajectories always, live
when importable), and ``step(closure)`` on every optimizer as in PyTorch."""

import os
import sys

import numpy as np
import pytest

import tinyclipnn as tc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "golden"))
from torch_habits_cases import OPTIMIZERS, optim_inputs  # noqa: E402

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "golden", "torch_habits.npz"))


def _trajectory(lib, cls, kw):
    p0, grads = optim_inputs()
    p = lib.nn.Parameter(lib.tensor(p0.copy()))
    opt = getattr(lib.optim, cls)([p], **kw)
    out = []
    for g in grads:
        p.grad = lib.tensor(g.copy()) if lib is not tc else g.copy()
        opt.step()
        out.append(np.array(p.detach().numpy()))
    return np.array(out)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizers_match_pytorch_golden(name):
    np.testing.assert_allclose(_trajectory(tc, *OPTIMIZERS[name]), GOLDEN[f"optim/{name}"],
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizers_match_pytorch_live(name):
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(_trajectory(tc, *OPTIMIZERS[name]),
                               _trajectory(torch, *OPTIMIZERS[name]), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls", ["RMSprop", "Adagrad"])
def test_defaults_and_state_names_match_pytorch_live(cls):
    torch = pytest.importorskip("torch")
    import inspect

    theirs = inspect.signature(getattr(torch.optim, cls)).parameters
    ours = inspect.signature(getattr(tc.optim, cls)).parameters
    for k in ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "lr_decay",
              "initial_accumulator_value", "foreach", "maximize"):
        if k in theirs:
            assert ours[k].default == theirs[k].default, k
    kw = dict(momentum=0.5, centered=True) if cls == "RMSprop" else {}
    p, q = tc.nn.Parameter(np.ones(3)), torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    a, b = getattr(tc.optim, cls)([p], **kw), getattr(torch.optim, cls)([q], **kw)
    p.grad, q.grad = np.ones(3), torch.ones(3, dtype=torch.float64)
    a.step()
    b.step()
    assert set(a.state_dict()["state"][0]) == set(b.state_dict()["state"][0])


@pytest.mark.parametrize("cls,kw", [("RMSprop", {"lr": -1.0}), ("RMSprop", {"alpha": -0.1}),
                                    ("RMSprop", {"momentum": -1}), ("Adagrad", {"lr_decay": -1}),
                                    ("Adagrad", {"initial_accumulator_value": -1.0}),
                                    ("Adagrad", {"eps": -1e-3})])
def test_invalid_hyperparameters_raise_value_error(cls, kw):
    with pytest.raises(ValueError, match="Invalid"):
        getattr(tc.optim, cls)([tc.nn.Parameter(np.ones(2))], **kw)


def _quadratic(lib, target):
    """A parameter, and a closure computing ``||w - target||^2`` and its gradient."""
    w = lib.nn.Parameter(lib.tensor(np.zeros(3)))
    calls = []

    def make(opt):
        def closure():
            calls.append(1)
            opt.zero_grad()
            loss = ((w - lib.tensor(target)) ** 2).sum()
            loss.backward()
            return loss
        return closure

    return w, make, calls


OPTS = [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {"lr": 0.1}), ("AdamW", {"lr": 0.1}),
        ("RMSprop", {"lr": 0.05}), ("Adagrad", {"lr": 0.5})]


@pytest.mark.parametrize("cls,kw", OPTS)
def test_step_with_closure_returns_its_loss_and_optimizes(cls, kw):
    target = np.array([1.0, -2.0, 0.5])
    w, make, calls = _quadratic(tc, target)
    opt = getattr(tc.optim, cls)([w], **kw)
    closure = make(opt)
    first = opt.step(closure)
    assert isinstance(first, tc.Tensor) and first.item() == pytest.approx(5.25)
    for _ in range(200):
        loss = opt.step(closure)
    assert len(calls) == 201 and loss.item() < 0.05 * first.item()
    assert opt.step() is None  # without a closure: None, as PyTorch


@pytest.mark.parametrize("cls,kw", OPTS)
def test_step_with_closure_matches_pytorch_live(cls, kw):
    torch = pytest.importorskip("torch")
    target = np.array([1.0, -2.0, 0.5])
    runs = []
    for lib in (tc, torch):
        w, make, _ = _quadratic(lib, target)
        opt = getattr(lib.optim, cls)([w], **kw)
        closure = make(opt)
        losses = [opt.step(closure).item() for _ in range(10)]
        runs.append((losses, np.array(w.detach().numpy())))
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-12)
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=1e-12)


def test_closure_runs_with_grad_enabled_inside_no_grad():
    w = tc.nn.Parameter(np.ones(2))
    opt = tc.optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with tc.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 2.0 and np.allclose(w.data, 0.8)
    with pytest.raises(TypeError, match="callable"):
        opt.step(3)


def test_skipped_step_still_returns_the_closure_loss():
    w = tc.nn.Parameter(np.ones(2))
    opt = tc.optim.SGD([w], lr=0.1, clipper=tc.clip.ClipGradNorm(1.0, nonfinite="skip"))

    def closure():
        w.grad = np.array([np.inf, 1.0])
        return 7.0

    assert opt.step(closure) == 7.0 and opt.skipped_steps == 1 and np.all(w.data == 1.0)
