"""Learning-rate schedulers against PyTorch: every case of golden/scheduler_cases.py (several
stacked, sequential, chained, cyclic, plateau) over 100 epochs, live when torch is importable
and from golden/schedulers.npz otherwise; plus state dicts, resuming, warnings and errors."""

import math
import os
import sys
import warnings

import numpy as np
import pytest

import tinyclipnn as tc
from tinyclipnn import optim
from tinyclipnn.optim import lr_scheduler as S

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "golden"))
from scheduler_cases import CASES, make_optimizer, run_case  # noqa: E402

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "golden", "schedulers.npz"))


def _quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_pytorch_golden(name):
    ours = _quiet(run_case, tc, name)
    for key, arr in ours.items():
        np.testing.assert_allclose(arr, GOLDEN[f"{name}/{key}"], rtol=1e-12, atol=1e-15,
                                   err_msg=f"{name}/{key}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_pytorch_live(name):
    torch = pytest.importorskip("torch")
    ours, theirs = _quiet(run_case, tc, name), _quiet(run_case, torch, name)
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-12, atol=1e-15,
                                   err_msg=f"{name}/{key}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_state_dict_resume_continues_the_schedule(name):
    """Save every scheduler after 40 epochs, rebuild, load, continue: same as uninterrupted."""
    case = CASES[name]
    whole = _quiet(run_case, tc, name)
    opt = make_optimizer(tc, case.get("optim", "SGD"))
    scheds = _quiet(case["build"], S, opt)
    step = case.get("step")
    for epoch in range(1, 41):
        opt.step()
        _quiet(step, scheds, epoch) if step else [_quiet(s.step) for s in scheds]
    states = [s.state_dict() for s in scheds]
    groups = [dict((k, v) for k, v in g.items() if k != "params") for g in opt.param_groups]
    opt2 = make_optimizer(tc, case.get("optim", "SGD"))
    scheds2 = _quiet(case["build"], S, opt2)
    for g, saved in zip(opt2.param_groups, groups, strict=True):
        g.update(saved)  # what Optimizer.load_state_dict restores
    for s, st in zip(scheds2, states, strict=True):
        s.load_state_dict(state_dict=st)
    assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in groups]
    for epoch in range(41, 61):
        opt2.step()
        _quiet(step, scheds2, epoch) if step else [_quiet(s.step) for s in scheds2]
        np.testing.assert_allclose([g["lr"] for g in opt2.param_groups], whole["lr"][epoch],
                                   rtol=1e-12)


def test_state_dict_keys_match_pytorch():
    torch = pytest.importorskip("torch")
    for build in (lambda L, o: L.StepLR(o, 3, 0.5), lambda L, o: L.CosineAnnealingLR(o, 10),
                  lambda L, o: L.MultiStepLR(o, [2, 4]), lambda L, o: L.LinearLR(o),
                  lambda L, o: L.OneCycleLR(o, 0.1, total_steps=10),
                  lambda L, o: L.ReduceLROnPlateau(o)):
        ours = build(S, make_optimizer(tc)).state_dict()
        theirs = build(torch.optim.lr_scheduler, make_optimizer(torch)).state_dict()
        assert set(theirs) - {"_get_lr_called_within_step"} <= set(ours) | {"_anneal_func_type"}


def test_state_dict_survives_save_and_load(tmp_path):
    opt = make_optimizer(tc)
    sched = S.StepLR(opt, step_size=3, gamma=0.5)
    for _ in range(5):
        opt.step()
        sched.step()
    tc.save({"sched": sched.state_dict()}, tmp_path / "s.npz")
    fresh = S.StepLR(make_optimizer(tc), step_size=1, gamma=0.9)
    fresh.load_state_dict(tc.load(tmp_path / "s.npz")["sched"])
    assert (fresh.step_size, fresh.gamma, fresh.last_epoch) == (3, 0.5, 5)
    assert fresh.get_last_lr() == sched.get_last_lr()


def test_multistep_state_survives_save_and_load(tmp_path):
    opt = make_optimizer(tc)
    sched = S.MultiStepLR(opt, [3, 5, 5], gamma=0.5)
    tc.save({"sched": sched.state_dict()}, tmp_path / "m.npz")
    fresh = S.MultiStepLR(make_optimizer(tc), [1])
    fresh.load_state_dict(tc.load(tmp_path / "m.npz")["sched"])
    assert fresh.milestones == {3: 1, 5: 2}
    fresh.optimizer.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        fresh.step(6)  # the closed form needs the Counter back
    assert fresh.get_last_lr() == [0.1 * 0.125, 0.05 * 0.125]


def test_load_state_dict_checks_before_changing_anything():
    opt = make_optimizer(tc)
    sched = S.StepLR(opt, 3)
    with pytest.raises(TypeError, match="state_dict must be a dict"):
        sched.load_state_dict([1, 2])
    with pytest.raises(ValueError, match="lacks"):
        sched.load_state_dict({"step_size": 7})
    assert sched.step_size == 3
    chained = S.ChainedScheduler([S.StepLR(opt, 3), S.ExponentialLR(opt, 0.9)])
    with pytest.raises(ValueError, match="holds 1 schedulers"):
        chained.load_state_dict({"_schedulers": [{}], "last_epoch": 0})


def test_call_order_warning():
    opt = make_optimizer(tc)
    sched = S.ExponentialLR(opt, 0.9)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt2 = make_optimizer(tc)
    sched2 = S.ExponentialLR(opt2, 0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt2.step()
        sched2.step()


def test_get_last_lr_is_the_schedulers_record():
    opt = make_optimizer(tc)
    sched = S.ExponentialLR(opt, 0.5)
    opt.step()
    sched.step()
    opt.param_groups[0]["lr"] = 7.0
    assert sched.get_last_lr() == [0.05, 0.025]
    sched.get_last_lr().append(1.0)  # a copy
    assert len(sched.get_last_lr()) == 2


def test_stacked_closed_forms_compose_like_pytorch():
    """The issue's example: StepLR(3, 0.1) + ExponentialLR(0.9) at epoch 3 is 0.003645."""
    opt = optim.SGD([tc.nn.Parameter(np.zeros(1))], lr=0.05)
    s1, s2 = S.StepLR(opt, 3, 0.1), S.ExponentialLR(opt, 0.9)
    for _ in range(3):
        opt.step()
        s1.step()
        s2.step()
    assert math.isclose(opt.param_groups[0]["lr"], 0.05 * 0.1 * 0.9 ** 3, rel_tol=1e-12)


def test_resume_needs_initial_lr():
    opt = make_optimizer(tc)
    with pytest.raises(ValueError, match="initial_lr"):
        S.StepLR(opt, 3, last_epoch=5)


@pytest.mark.parametrize("make, exc, match", [
    (lambda o: S.StepLR(o, 0), ValueError, "step_size"),
    (lambda o: S.StepLR(o, "3"), TypeError, "step_size must be an integer"),
    (lambda o: S.ExponentialLR(o, "0.9"), TypeError, "gamma"),
    (lambda o: S.CosineAnnealingLR(o, T_max=0), ValueError, "T_max"),
    (lambda o: S.LinearLR(o, start_factor=0.0), ValueError, "start_factor"),
    (lambda o: S.ConstantLR(o, factor=2.0), ValueError, "factor"),
    (lambda o: S.MultiStepLR(o, [2, -1]), ValueError, "milestones"),
    (lambda o: S.LambdaLR(o, [lambda e: 1.0]), ValueError, "lr_lambda"),
    (lambda o: S.LambdaLR(o, 3), TypeError, "lr_lambda must be a function"),
    (lambda o: S.OneCycleLR(o, 0.1), ValueError, "total_steps"),
    (lambda o: S.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="exp"), ValueError, "anneal"),
    (lambda o: S.OneCycleLR(o, [0.1], total_steps=10), ValueError, "max_lr"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "T_0"),
    (lambda o: S.ReduceLROnPlateau(o, factor=1.0), ValueError, r"factor must be .*\[0, 1\)"),
    (lambda o: S.ReduceLROnPlateau(o, mode="up"), ValueError, "mode"),
    (lambda o: S.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "min_lr must be .* a list of 2"),
    (lambda o: S.StepLR(o, 3, last_epoch=-2), ValueError, "last_epoch"),
    (lambda o: S.SequentialLR(o, [S.StepLR(o, 3)], milestones=[3]), ValueError, "milestone"),
    (lambda o: S.ChainedScheduler([]), ValueError, "at least one"),
    (lambda o: S.StepLR("sgd", 3), TypeError, "optimizer must be an Optimizer"),
])
def test_argument_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make(make_optimizer(tc))


def test_composites_reject_plateau_and_foreign_optimizers():
    opt, other = make_optimizer(tc), make_optimizer(tc)
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        S.ChainedScheduler([S.ReduceLROnPlateau(opt)])
    with pytest.raises(ValueError, match="same optimizer"):
        S.SequentialLR(opt, [S.StepLR(opt, 2), S.StepLR(other, 2)], milestones=[3])


def test_onecycle_refuses_to_run_past_total_steps():
    opt = make_optimizer(tc)
    sched = S.OneCycleLR(opt, 0.1, total_steps=3)
    for _ in range(3):
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        sched.step()
