"""Every stored state is checked like a constructor argument (issue 22 A): ``load_state_dict`` of
the clippers, ``LossScaler``, every lr scheduler and the optimizers refuses a bad state with a
``TypeError`` / ``ValueError`` naming the key, and leaves the object exactly as it was."""

import copy
import math
import os
import sys
import warnings
from collections import Counter

import numpy as np
import pytest

import tinyclipnn as tc
from tinyclipnn import clip as C
from tinyclipnn import optim
from tinyclipnn.optim import lr_scheduler as S

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "golden"))
from scheduler_cases import CASES, make_optimizer  # noqa: E402

NAN = float("nan")


def _same(a, b) -> bool:
    """Deep equality of two states (arrays by value, NaN equal to NaN)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b, equal_nan=True) and np.asarray(a).dtype == np.asarray(b).dtype
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    numbers = (int, float, np.integer, np.floating)
    if isinstance(a, numbers) and isinstance(b, numbers):  # 99 and 99.0 alike; bools apart
        return isinstance(a, bool) == isinstance(b, bool) and a == b
    return type(a) is type(b) and a == b


def _refused(obj, state, exc=(TypeError, ValueError), match=None):
    """``obj.load_state_dict(state)`` raises (naming ``match``) and changes nothing."""
    before = obj.state_dict()
    with pytest.raises(exc, match=match):
        obj.load_state_dict(state)
    assert _same(obj.state_dict(), before), "a refused state changed the object"


# ---- clippers and the loss scaler ------------------------------------------------------------
def _autoclip():
    c = C.AutoClip(percentile=50.0, history=4)
    for v in (3.0, 1.0, 2.0):
        c([np.full(4, v, np.float32)])
    return c


def _zclip(warmed=True):
    c = C.ZClip(warmup_steps=2)
    for v in (3.0, 1.0, 2.0)[: 3 if warmed else 1]:
        c([np.full(4, v, np.float32)])
    return c


def _scaler():
    s = C.LossScaler(init_scale=8.0, growth_interval=3)
    s.unscale_and_clip_([np.ones(4, np.float32)], max_norm=1.0)
    s.update()
    return s


STATEFUL = {"AutoClip": _autoclip, "ZClip": _zclip, "ZClip-warming": lambda: _zclip(False),
            "LossScaler": _scaler}


def _with(state, **changes):
    return {**state, **changes}


# (object, state change, message fragment): each one a state no constructor would produce
BAD_CLIP_STATES = [
    ("AutoClip", {"norms": "abc"}, "norms"),
    ("AutoClip", {"norms": [1.0, -2.0]}, r"norms'\]\[1\].*>= 0"),
    ("AutoClip", {"norms": [1.0, NAN]}, r"norms'\]\[1\]"),
    ("AutoClip", {"norms": [1.0, math.inf]}, r"norms'\]\[1\]"),
    ("AutoClip", {"norms": [True]}, r"norms'\]\[0\]"),
    ("ZClip", {"mean": "x", "var": -1}, "mean"),
    ("ZClip", {"var": -1.0}, r"'var'.*>= 0.*-1"),
    ("ZClip", {"var": NAN}, "var"),
    ("ZClip", {"mean": math.inf}, "mean"),
    ("ZClip", {"var": None}, "both None"),
    ("ZClip", {"warmup": [1.0]}, "warmup must be"),
    ("ZClip-warming", {"warmup": [1.0, "2"]}, r"warmup'\]\[1\]"),
    ("ZClip-warming", {"mean": 1.0}, "both None"),
    ("LossScaler", {"scale": -1.0}, r"'scale'.*> 0.*-1"),
    ("LossScaler", {"scale": NAN}, "scale"),
    ("LossScaler", {"scale": math.inf}, "scale"),
    ("LossScaler", {"scale": "8"}, "scale"),
    ("LossScaler", {"growth_factor": 1.0}, "growth_factor"),
    ("LossScaler", {"backoff_factor": 1.5}, "backoff_factor"),
    ("LossScaler", {"growth_interval": 2.5}, "growth_interval"),
    ("LossScaler", {"growth_interval": 0}, "growth_interval"),
    ("LossScaler", {"_growth_tracker": -1}, "_growth_tracker"),
    ("LossScaler", {"_growth_tracker": 3}, "_growth_tracker must be < growth_interval"),
]


@pytest.mark.parametrize("name, change, match", BAD_CLIP_STATES)
def test_bad_clipper_states_are_refused_and_change_nothing(name, change, match):
    obj = STATEFUL[name]()
    _refused(obj, _with(obj.state_dict(), **change), match=match)


@pytest.mark.parametrize("name", sorted(STATEFUL))
def test_missing_unexpected_and_non_dict_states(name):
    obj = STATEFUL[name]()
    state = obj.state_dict()
    key = next(iter(state))
    _refused(obj, {k: v for k, v in state.items() if k != key}, ValueError, f"lacks.*{key}")
    _refused(obj, {**state, "history": 3}, ValueError, "unexpected keys.*history")
    _refused(obj, [1, 2], TypeError, "must be a dict")


def test_autoclip_reported_case_is_a_clear_error():
    """Reported: ``{"history": "abc"}`` raised ``KeyError: 'norms'``."""
    with pytest.raises(ValueError, match=r"AutoClip.load_state_dict: .*lacks keys \['norms'\]"):
        C.AutoClip().load_state_dict({"history": "abc"})


def test_zclip_reported_case_is_refused_before_the_math_domain_error():
    """Reported: ``{"mean": "x", "var": -1}`` was accepted and the next call raised "math
    domain error"."""
    z = _zclip()
    with pytest.raises(TypeError, match=r"ZClip.load_state_dict: state_dict\['mean'\] must be "
                                        r"None or a finite number >= 0, got str 'x'"):
        z.load_state_dict({"mean": "x", "var": -1, "warmup": []})
    with pytest.raises(ValueError, match=r"state_dict\['var'\].*got -1"):
        z.load_state_dict({"mean": 1.0, "var": -1, "warmup": []})
    z([np.ones(4, np.float32)])  # still usable


def test_loss_scaler_refuses_what_its_constructor_refuses():
    """Reported: a scale of -1 or NaN was loaded although ``LossScaler(init_scale=...)``
    refuses both."""
    for bad in (-1.0, NAN):
        with pytest.raises(ValueError, match="init_scale"):
            C.LossScaler(init_scale=bad)
        s = _scaler()
        _refused(s, _with(s.state_dict(), scale=bad), ValueError, "scale")
        assert s.get_scale() == 8.0


@pytest.mark.parametrize("name", sorted(STATEFUL))
def test_states_round_trip_through_save_and_load(name, tmp_path):
    obj = STATEFUL[name]()
    tc.save({"s": obj.state_dict()}, tmp_path / "c.npz")
    fresh = type(obj)() if name != "AutoClip" else C.AutoClip(percentile=50.0, history=4)
    fresh.load_state_dict(tc.load(tmp_path / "c.npz")["s"])
    assert _same(fresh.state_dict(), obj.state_dict())


def test_numpy_scalars_load_as_numbers():
    s = _scaler()
    state = {k: (np.float32(v) if isinstance(v, float) else np.int64(v))
             for k, v in s.state_dict().items()}
    fresh = C.LossScaler()
    fresh.load_state_dict(state)
    assert fresh.state_dict() == s.state_dict()
    assert type(fresh.state_dict()["growth_interval"]) is int


@pytest.mark.parametrize("make", [lambda: C.ClipGradNorm(1.0), lambda: C.ClipGradValue(1.0),
                                  lambda: C.ClipGradNormPerTensor(1.0),
                                  lambda: C.AdaptiveGradClip()])
def test_stateless_clippers_take_only_an_empty_state(make):
    clipper = make()
    clipper.load_state_dict({})
    _refused(clipper, {"norms": [1.0]}, ValueError, "unexpected keys")
    _refused(clipper, None, TypeError, "must be a dict")


def test_resume_with_a_damaged_clipper_state_names_the_field(tmp_path, capsys):
    """Reported: ``train-charlm --resume`` printed ``error: math domain error``."""
    from _charlm_helpers import SMALL, write_text

    from tinyclipnn.cli import main

    text, out = write_text(tmp_path), tmp_path / "run"
    assert main(["train-charlm", "--text", str(text), "--steps", "3", *SMALL, "--out",
                 str(out), "--clip", "zclip:warmup_steps=2"]) == 0
    ckpt = tc.load(out / "model.npz")
    ckpt["state"]["clipper"]["var"] = -1.0
    tc.save(ckpt, out / "model.npz")
    capsys.readouterr()
    assert main(["train-charlm", "--resume", str(out), "--steps", "5", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "var" in err and ">= 0" in err and "math domain" not in err


# ---- optimizers ----------------------------------------------------------------------------
def _optimizer(cls, **kw):
    ps = [tc.nn.Parameter(np.ones((2, 3), np.float32)), tc.nn.Parameter(np.ones(4))]
    opt = cls(ps, lr=0.1, **kw)
    for _ in range(2):
        for p in ps:
            p.grad = np.full_like(p.data, 0.5)
        opt.step()
    return opt


def _group(state, **changes):
    groups = [dict(g) for g in state["param_groups"]]
    groups[0].update(changes)
    return {"state": state["state"], "param_groups": groups}


def _entry(state, index=0, drop=(), **changes):
    entries = {k: dict(v) for k, v in state["state"].items()}
    entries[index].update(changes)
    for k in drop:
        del entries[index][k]
    return {"state": entries, "param_groups": state["param_groups"]}


ADAM_BAD = [
    (lambda s: _group(s, lr=-1.0), ValueError, r"param_groups\[0\]\['lr'\].*>= 0"),
    (lambda s: _group(s, lr=NAN), ValueError, r"Invalid learning rate: .*got nan"),
    (lambda s: _group(s, lr="0.1"), TypeError, "lr"),
    (lambda s: _group(s, eps=math.inf), ValueError, "eps"),
    (lambda s: _group(s, weight_decay=-0.1), ValueError, "weight_decay"),
    (lambda s: _group(s, betas=(1.0, 0.9)), ValueError, "beta parameter at index 0"),
    (lambda s: _group(s, betas=0.9), TypeError, "betas"),
    (lambda s: _group(s, amsgrad="no"), TypeError, "amsgrad"),
    (lambda s: _group(s, amsgrad=True), ValueError, "max_exp_avg_sq"),  # no such state yet
    (lambda s: _group(s, params=[0]), ValueError, "parameters"),
    (lambda s: _group(s, params=["a", 1]), TypeError, "params"),
    (lambda s: {**s, "param_groups": s["param_groups"] * 2}, ValueError, "number of parameter"),
    (lambda s: {**s, "param_groups": [7]}, TypeError, "param_groups"),
    (lambda s: {"state": s["state"]}, ValueError, "param_groups"),
    (lambda s: {**s, "state": {**s["state"], 5: s["state"][0]}}, ValueError, "index 5"),
    (lambda s: {**s, "state": {**s["state"], 0: [1]}}, TypeError, r"state\[0\]"),
    (lambda s: _entry(s, step=-1), ValueError, "step"),
    (lambda s: _entry(s, step=1.5), TypeError, "step"),
    (lambda s: _entry(s, exp_avg=np.ones(3)), ValueError, "shape"),
    (lambda s: _entry(s, exp_avg=np.full((2, 3), NAN)), ValueError, "exp_avg"),
    (lambda s: _entry(s, exp_avg_sq=np.full((2, 3), -1.0)), ValueError, "exp_avg_sq.*>= 0"),
    (lambda s: _entry(s, exp_avg_sq=np.full((2, 3), "x")), TypeError, "dtype"),
    (lambda s: _entry(s, exp_avg=np.ones((2, 3), bool)), TypeError, "dtype"),
    (lambda s: _entry(s, exp_avg=None), TypeError, "exp_avg"),
    (lambda s: _entry(s, drop=("exp_avg",)), ValueError, "exp_avg"),
    (lambda s: _entry(s, momentum_buffer=np.ones((2, 3))), ValueError, "unexpected"),
]


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
@pytest.mark.parametrize("make_bad, exc, match", ADAM_BAD)
def test_bad_adam_states_are_refused_and_change_nothing(cls, make_bad, exc, match):
    opt = _optimizer(cls)
    _refused(opt, make_bad(opt.state_dict()), exc, match)
    assert opt.param_groups[0]["lr"] == 0.1


SGD_BAD = [
    (lambda s: _group(s, momentum=-0.5), ValueError, "momentum"),
    (lambda s: _group(s, dampening=math.inf), ValueError, "dampening"),
    (lambda s: _group(s, nesterov=1), TypeError, "nesterov"),
    (lambda s: _group(s, nesterov=True, dampening=0.5), ValueError, "Nesterov"),
    (lambda s: _entry(s, momentum_buffer=np.full((2, 3), math.inf)), ValueError, "momentum_buf"),
    (lambda s: _entry(s, momentum_buffer=np.ones(6)), ValueError, "shape"),
    (lambda s: _entry(s, exp_avg=np.ones((2, 3))), ValueError, "unexpected.*exp_avg"),
]


@pytest.mark.parametrize("make_bad, exc, match", SGD_BAD)
def test_bad_sgd_states_are_refused_and_change_nothing(make_bad, exc, match):
    opt = _optimizer(optim.SGD, momentum=0.9)
    _refused(opt, make_bad(opt.state_dict()), exc, match)


def test_group_hyper_parameters_follow_the_constructor_rules():
    p, q = tc.nn.Parameter(np.zeros(2)), tc.nn.Parameter(np.zeros(2))
    with pytest.raises(ValueError, match=r"param_groups\[1\]\['lr'\]"):
        optim.Adam([{"params": [p]}, {"params": [q], "lr": -1.0}])
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        opt.add_param_group({"params": [q], "nesterov": True})
    assert len(opt.param_groups) == 1


def test_state_loads_by_the_saved_parameter_ids_as_pytorch():
    """Saved ids need not be 0..n-1: they map to the parameters in group order."""
    opt = _optimizer(optim.Adam)
    state = opt.state_dict()
    relabelled = {"state": {10 + k: v for k, v in state["state"].items()},
                  "param_groups": [{**state["param_groups"][0], "params": [10, 11]}]}
    fresh = optim.Adam([tc.nn.Parameter(np.ones((2, 3), np.float32)),
                        tc.nn.Parameter(np.ones(4))], lr=0.5)
    fresh.load_state_dict(relabelled)
    assert _same(fresh.state_dict(), state)


def test_loaded_state_is_cast_to_the_parameter_dtype_and_copied():
    opt = _optimizer(optim.Adam)
    state = opt.state_dict()
    state["state"][0]["exp_avg"] = state["state"][0]["exp_avg"].astype(np.float64)
    fresh = _optimizer(optim.Adam)
    fresh.load_state_dict(state)
    loaded = fresh.state_dict()["state"][0]["exp_avg"]
    assert loaded.dtype == np.float32
    state["state"][0]["exp_avg"][...] = 7.0
    assert not (fresh.state_dict()["state"][0]["exp_avg"] == 7.0).any()


# ---- schedulers ----------------------------------------------------------------------------
def _quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def _scheduler(name):
    """The case's schedulers after 5 epochs (the optimizer too)."""
    case = CASES[name]
    opt = make_optimizer(tc, case.get("optim", "SGD"))
    scheds = _quiet(case["build"], S, opt)
    step = case.get("step")
    for epoch in range(1, 6):
        opt.step()
        _quiet(step, scheds, epoch) if step else [_quiet(s.step) for s in scheds]
    return opt, scheds


SCHEDULERS = [(name, i) for name in sorted(CASES) for i in range(len(CASES[name]["build"](
    S, make_optimizer(tc, CASES[name].get("optim", "SGD")))))]


@pytest.mark.parametrize("name, index", SCHEDULERS)
def test_every_scheduler_field_is_checked(name, index):
    """Each field of each scheduler (composites: their members' fields too) set to a string
    or NaN is refused, naming the field, and leaves the scheduler as it was."""
    _, scheds = _scheduler(name)
    sched = scheds[index]
    state = sched.state_dict()
    for key in state:
        if key == "_schedulers":
            for j, member in enumerate(state["_schedulers"]):
                for mkey in member:
                    members = list(state["_schedulers"])
                    members[j] = {**member, mkey: "x"}
                    _refused(sched, {**state, "_schedulers": members}, match=mkey)
            continue
        for bad in ("x", NAN):
            if key == "lr_lambdas" and bad != "x":
                continue
            _refused(sched, {**state, key: bad}, match=key)


@pytest.mark.parametrize("name, index", SCHEDULERS)
def test_every_scheduler_state_round_trips_through_save_and_load(name, index, tmp_path):
    _, scheds = _scheduler(name)
    _, fresh = _scheduler(name)
    tc.save({"s": scheds[index].state_dict()}, tmp_path / "s.npz")
    fresh[index].load_state_dict(tc.load(tmp_path / "s.npz")["s"])
    assert _same(fresh[index].state_dict(), scheds[index].state_dict())


def _sched(make):
    opt = make_optimizer(tc)
    return _quiet(make, opt)


BAD_SCHEDULER_STATES = [
    (lambda o: S.StepLR(o, 3), {"step_size": 0}, ValueError, r"step_size'\] must be an integer >= 1"),
    (lambda o: S.StepLR(o, 3), {"step_size": 3.0}, TypeError, "step_size"),
    (lambda o: S.StepLR(o, 3), {"gamma": -0.5}, ValueError, "gamma"),
    (lambda o: S.StepLR(o, 3), {"last_epoch": -2}, ValueError, "last_epoch"),
    (lambda o: S.StepLR(o, 3), {"base_lrs": [0.1]}, ValueError, "base_lrs.*parameter group"),
    (lambda o: S.StepLR(o, 3), {"_is_initial": 0}, TypeError, "_is_initial"),
    (lambda o: S.StepLR(o, 3), {"_last_lr": [0.1, math.inf]}, ValueError, r"_last_lr'\]\[1\]"),
    (lambda o: S.MultiStepLR(o, [2]), {"milestones": {2: 0}}, ValueError, "milestones"),
    (lambda o: S.MultiStepLR(o, [2]), {"milestones": {-2: 1}}, ValueError, "milestones"),
    (lambda o: S.ConstantLR(o), {"factor": 0.0}, ValueError, "factor"),
    (lambda o: S.LinearLR(o), {"start_factor": 0.0}, ValueError, "start_factor"),
    (lambda o: S.LinearLR(o), {"total_iters": 0}, ValueError, "total_iters"),
    (lambda o: S.CosineAnnealingLR(o, 5), {"eta_min": -1.0}, ValueError, "eta_min"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, 3), {"T_i": 0}, ValueError, "T_i"),
    (lambda o: S.OneCycleLR(o, 0.1, total_steps=10), {"anneal_strategy": "exp"}, ValueError,
     "anneal_strategy"),
    (lambda o: S.OneCycleLR(o, 0.1, total_steps=10), {"_schedule_phases": [{}]}, ValueError,
     "_schedule_phases"),
    (lambda o: S.OneCycleLR(o, 0.1, total_steps=10),
     {"cycle_momentum": False}, ValueError, "use_beta1=True needs"),
    (lambda o: S.ReduceLROnPlateau(o), {"factor": 1.0}, ValueError, "factor"),
    (lambda o: S.ReduceLROnPlateau(o), {"mode": "up"}, ValueError, "mode"),
    (lambda o: S.ReduceLROnPlateau(o), {"patience": -1}, ValueError, "patience"),
    (lambda o: S.ReduceLROnPlateau(o, min_lr=[0.0, 0.0]), {"min_lrs": [0.0]}, ValueError,
     "min_lrs"),
    (lambda o: S.LambdaLR(o, lambda e: 1.0), {"lr_lambdas": [None]}, ValueError, "lr_lambdas"),
    (lambda o: S.SequentialLR(o, [S.StepLR(o, 2), S.StepLR(o, 3)], [4]), {"_milestones": []},
     ValueError, "_milestones"),
    (lambda o: S.ChainedScheduler([S.StepLR(o, 2), S.ExponentialLR(o, 0.9)]),
     {"_schedulers": [{}]}, ValueError, "holds 1 schedulers"),
]


@pytest.mark.parametrize("make, change, exc, match", BAD_SCHEDULER_STATES)
def test_bad_scheduler_states_are_refused_and_change_nothing(make, change, exc, match):
    sched = _sched(make)
    if isinstance(sched, S.OneCycleLR) and "cycle_momentum" in change:
        change = {**change, "use_beta1": True}
    _refused(sched, {**sched.state_dict(), **change}, exc, match)


def test_a_composite_checks_every_member_before_loading_any():
    opt = make_optimizer(tc)
    chained = _quiet(S.ChainedScheduler, [S.StepLR(opt, 2), S.ExponentialLR(opt, 0.9)])
    state = chained.state_dict()
    members = [{**state["_schedulers"][0], "step_size": 7},
               {**state["_schedulers"][1], "gamma": "x"}]
    _refused(chained, {**state, "_schedulers": members}, TypeError,
             r"_schedulers'\]\[1\]: ExponentialLR.*gamma")
    assert chained._schedulers[0].step_size == 2


def test_multistep_milestones_come_back_as_a_counter():
    sched = _sched(lambda o: S.MultiStepLR(o, [3, 5, 5]))
    fresh = _sched(lambda o: S.MultiStepLR(o, [1]))
    fresh.load_state_dict({**sched.state_dict(), "milestones": {3: 1, 5: 2}})
    assert isinstance(fresh.milestones, Counter) and fresh.milestones == {3: 1, 5: 2}


def test_user_subclasses_may_store_more():
    """A user's scheduler or optimizer subclass keeps extra fields (as PyTorch allows); the
    fields tinyclipnn knows are still checked."""

    class Warmup(S.StepLR):
        def __init__(self, optimizer, warm):
            self.warm = warm
            super().__init__(optimizer, 3)

    sched = _sched(lambda o: Warmup(o, 4))
    fresh = _sched(lambda o: Warmup(o, 1))
    fresh.load_state_dict(sched.state_dict())
    assert fresh.warm == 4
    _refused(fresh, {**sched.state_dict(), "gamma": "x"}, TypeError, "gamma")

    class Counted(optim.SGD):
        def _update(self, p, grad, group, state):
            state["calls"] = state.get("calls", 0) + 1
            super()._update(p, grad, group, state)

    opt = _optimizer(Counted, momentum=0.9)
    other = _optimizer(Counted, momentum=0.9)
    other.load_state_dict(opt.state_dict())
    assert other.state_dict()["state"][0]["calls"] == 2
    _refused(other, _entry(opt.state_dict(), momentum_buffer=np.ones(7)), ValueError, "shape")


def test_restore_rolls_back_objects_loaded_before_a_refused_state():
    """A checkpoint whose clipper state is refused must leave the model and optimizer, which
    ``restore`` loads first, exactly as they were (before: they kept the checkpoint's state)."""
    from tinyclipnn.clip import ZClip
    from tinyclipnn.lab.checkpoint import capture, restore

    def setup(value):
        model = tc.nn.Linear(3, 2)
        opt = tc.optim.Adam(model.parameters(), lr=0.1)
        for p in model.parameters():
            p.data[...] = value
            p.grad = np.full_like(p.data, value)
        opt.step()
        return model, opt, ZClip(warmup_steps=2)

    model, opt, clipper = setup(1.0)
    objects = {"model": model, "optimizer": opt, "clipper": clipper}
    ckpt = capture(7, {}, objects, {})
    ckpt["state"]["clipper"]["var"] = -1.0
    model2, opt2, clipper2 = setup(2.0)
    before = [copy.deepcopy(o.state_dict()) for o in (model2, opt2, clipper2)]
    with pytest.raises(ValueError, match="var"):
        restore(ckpt, {"model": model2, "optimizer": opt2, "clipper": clipper2}, {})
    for old, obj in zip(before, (model2, opt2, clipper2), strict=True):
        assert _same(old, obj.state_dict())
