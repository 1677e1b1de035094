"""Optimizers against hand-written PyTorch update rules (always) and PyTorch itself (when
importable), plus the clipper hook, argument checks and state dicts."""

import functools

import numpy as np
import pytest

import tinyclipnn as tc
from tinyclipnn import optim


def _run(opt_cls, kwargs, steps=5, seed=0):
    rng = np.random.default_rng(seed)
    p = tc.nn.Parameter(rng.standard_normal(4))
    grads = [rng.standard_normal(4) for _ in range(steps)]
    opt = opt_cls([p], **kwargs)
    traj = []
    for g in grads:
        p.grad = g.copy()
        opt.step()
        traj.append(p.data.copy())
    return np.array(traj), grads, rng


def _ref_sgd(p0, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    p, buf, out = p0.copy(), None, []
    for g in grads:
        d = g + weight_decay * p
        if momentum:
            buf = d.copy() if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        p = p - lr * d
        out.append(p.copy())
    return np.array(out)


def _ref_adam(p0, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
              amsgrad=False, decoupled=False):
    p, m, v, vmax, out = p0.copy(), 0 * p0, 0 * p0, 0 * p0, []
    for t, g in enumerate(grads, 1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        vmax = np.maximum(vmax, v)
        vv = vmax if amsgrad else v
        p = p - lr / (1 - betas[0] ** t) * m / (np.sqrt(vv) / np.sqrt(1 - betas[1] ** t) + eps)
        out.append(p.copy())
    return np.array(out)


SGD_CASES = [dict(lr=0.1), dict(lr=0.1, momentum=0.9), dict(lr=0.05, momentum=0.9, dampening=0.3),
             dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.01),
             dict(lr=0.1, weight_decay=0.1)]
ADAM_CASES = [dict(), dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6), dict(lr=0.01, weight_decay=0.1),
              dict(lr=0.01, amsgrad=True)]


@pytest.mark.parametrize("kw", SGD_CASES)
def test_sgd_matches_reference(kw):
    traj, grads, _ = _run(optim.SGD, kw)
    p0 = np.random.default_rng(0).standard_normal(4)
    np.testing.assert_allclose(traj, _ref_sgd(p0, grads, **kw), rtol=1e-12)


@pytest.mark.parametrize("kw", ADAM_CASES)
@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
def test_adam_matches_reference(cls, kw):
    kw = dict(kw)
    if cls is optim.AdamW:
        kw.setdefault("weight_decay", 1e-2)
    traj, grads, _ = _run(cls, kw)
    p0 = np.random.default_rng(0).standard_normal(4)
    ref = _ref_adam(p0, grads, decoupled=cls is optim.AdamW, **kw)
    np.testing.assert_allclose(traj, ref, rtol=1e-12)


def _torch_traj(torch_cls, kwargs, steps=5, seed=0):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    p = torch.nn.Parameter(torch.tensor(rng.standard_normal(4)))
    grads = [rng.standard_normal(4) for _ in range(steps)]
    opt = torch_cls([p], **kwargs)
    out = []
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
        out.append(p.detach().numpy().copy())
    return np.array(out)


@pytest.mark.parametrize("name,kw", [("SGD", k) for k in SGD_CASES] +
                         [("Adam", k) for k in ADAM_CASES] + [("AdamW", k) for k in ADAM_CASES])
def test_optimizers_match_torch(name, kw):
    torch = pytest.importorskip("torch")
    ours, _, _ = _run(getattr(optim, name), kw)
    theirs = _torch_traj(getattr(torch.optim, name), kw)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_defaults_match_pytorch():
    p = [tc.nn.Parameter(np.zeros(1))]
    assert optim.Adam(p).defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                                          weight_decay=0.0, amsgrad=False)
    assert optim.AdamW(p).defaults["weight_decay"] == 1e-2


def test_clipper_runs_before_step_and_result_is_kept():
    p = tc.nn.Parameter(np.zeros(2))
    q = tc.nn.Parameter(np.zeros(2))  # no grad: not passed to the clipper
    seen = []

    def halve(params):
        seen.append(len(params))
        for x in params:
            x.grad *= 0.5
        return "clipped"

    opt = optim.SGD([p, q], lr=1.0, clipper=halve)
    p.grad = np.array([2.0, -4.0])
    opt.step()
    np.testing.assert_allclose(p.data, [-1.0, 2.0])
    assert seen == [1] and opt.last_clip == "clipped"
    with pytest.raises(TypeError, match="clipper"):
        optim.SGD([p], lr=0.1, clipper=3)


def test_clipper_with_partial_of_any_function():
    p = tc.nn.Parameter(np.zeros(2))

    def scale(params, factor):
        for x in params:
            x.grad *= factor

    opt = optim.SGD([p], lr=1.0, clipper=functools.partial(scale, factor=0.0))
    p.grad = np.ones(2)
    opt.step()
    assert not p.data.any()


def test_bad_arguments():
    p = [tc.nn.Parameter(np.zeros(1))]
    with pytest.raises(ValueError, match="lr"):
        optim.SGD(p, lr=-1)
    with pytest.raises(ValueError, match="lr"):
        optim.Adam(p, lr=float("nan"))
    with pytest.raises(ValueError, match="betas"):
        optim.Adam(p, betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(p[0], lr=0.1)


def test_param_groups_and_state_dict_round_trip():
    a, b = tc.nn.Parameter(np.ones(2)), tc.nn.Parameter(np.ones(3))
    opt = optim.Adam([{"params": [a], "lr": 0.1}, {"params": [b]}], lr=0.01)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    for _ in range(2):
        a.grad, b.grad = np.ones(2), np.ones(3)
        opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0] and sd["state"][1]["step"] == 2
    a2, b2 = tc.nn.Parameter(a.data.copy()), tc.nn.Parameter(b.data.copy())
    opt2 = optim.Adam([{"params": [a2], "lr": 0.5}, {"params": [b2]}], lr=0.5)
    opt2.load_state_dict(sd)
    a.grad = a2.grad = np.full(2, 0.3)
    b.grad = b2.grad = np.full(3, 0.3)
    opt.step()
    opt2.step()
    np.testing.assert_allclose(a2.data, a.data)
    np.testing.assert_allclose(b2.data, b.data)


def test_step_keeps_parameter_array_object():
    p = tc.nn.Parameter(np.ones(3, np.float32))
    data = p.data
    opt = optim.AdamW([p], lr=0.1)
    p.grad = np.ones(3, np.float32)
    opt.step()
    assert p.data is data and p.dtype == np.float32


@pytest.mark.parametrize("make,closed_form", [
    (lambda o: optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), lambda e: 0.5 ** (e // 3)),
    (lambda o: optim.lr_scheduler.ExponentialLR(o, gamma=0.9), lambda e: 0.9 ** e),
    (lambda o: optim.lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + e)), lambda e: 1 / (1 + e)),
    (lambda o: optim.lr_scheduler.CosineAnnealingLR(o, T_max=10),
     lambda e: (1 + np.cos(np.pi * e / 10)) / 2),
])
def test_schedulers_follow_closed_forms(make, closed_form):
    opt = optim.SGD([tc.nn.Parameter(np.zeros(1))], lr=0.2)
    sched = make(opt)
    for epoch in range(12):
        np.testing.assert_allclose(sched.get_last_lr()[0], 0.2 * closed_form(epoch), rtol=1e-12)
        opt.step()
        sched.step()


def test_scheduler_matches_torch():
    torch = pytest.importorskip("torch")
    opt = optim.SGD([tc.nn.Parameter(np.zeros(1))], lr=0.3)
    topt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.3)
    ours = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=7, eta_min=0.01)
    theirs = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=7, eta_min=0.01)
    for _ in range(7):
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-10)
        topt.step()
        opt.step()
        ours.step()
        theirs.step()
