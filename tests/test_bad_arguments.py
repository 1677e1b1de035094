"""Bad arguments get a clear error naming the argument and the rule (issue 22 B): negative
total norms, NaN messages that state the true rule, ``tc.save`` paths, optimizer gradients,
DP noise, a missing numba, and integer / bool / numpy-scalar arguments."""

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import tinyclipnn as tc
from tinyclipnn import clip as C
from tinyclipnn import optim
from tinyclipnn.optim import lr_scheduler as S

ROOT = Path(__file__).resolve().parents[1]
NAN, INF = float("nan"), float("inf")


def _grads():
    return [np.array([3.0, 4.0], np.float32)]


def _opt():
    return optim.SGD([tc.nn.Parameter(np.zeros(2))], lr=0.1, momentum=0.9)


# ---- clip_grads_with_norm_: a negative total norm --------------------------------------------
def test_negative_total_norm_raises_and_leaves_the_gradients():
    g = _grads()
    with pytest.raises(ValueError, match=r"total_norm must be a number >= 0, inf or NaN.*-5"):
        C.clip_grads_with_norm_(g, 1.0, -5.0)
    np.testing.assert_array_equal(g[0], [3.0, 4.0])  # the sign was flipped before


def test_total_norm_inf_and_nan_behave_as_pytorch():
    g = _grads()
    C.clip_grads_with_norm_(g, 1.0, INF)  # coefficient 0
    np.testing.assert_array_equal(g[0], [0.0, 0.0])
    g = _grads()
    C.clip_grads_with_norm_(g, 1.0, NAN)  # NaN propagates
    assert np.isnan(g[0]).all()
    g = _grads()
    C.clip_grads_with_norm_(g, 1.0, np.float32(5.0))  # a numpy scalar
    np.testing.assert_allclose(g[0], [0.6, 0.8], rtol=1e-5)
    with pytest.raises(TypeError, match="total_norm"):
        C.clip_grads_with_norm_(_grads(), 1.0, "5")


# ---- every message a NaN argument can produce states the true rule -------------------------
NAN_CASES = [
    (lambda: C.clip_grad_norm_(_grads(), NAN), "max_norm must be a number >= 0 or inf, got nan"),
    (lambda: C.clip_grad_norm_(_grads(), 1.0, NAN), "norm_type must be a number >= 1 or inf"),
    (lambda: C.clip_grad_norm_per_tensor_(_grads(), NAN), "max_norm must be a number >= 0 or inf"),
    (lambda: C.get_total_norm(_grads(), NAN), "norm_type must be a number >= 1 or inf"),
    (lambda: C.clip_grads_with_norm_(_grads(), NAN, 1.0), "max_norm must be a number >= 0 or inf"),
    (lambda: C.clip_grad_value_(_grads(), NAN), "clip_value must be a number >= 0 or inf"),
    (lambda: C.adaptive_clip_grad_([tc.nn.Parameter(np.ones(2))], NAN),
     "clipping must be a finite number > 0"),
    (lambda: C.adaptive_clip_grad_([tc.nn.Parameter(np.ones(2))], 0.1, NAN),
     "eps must be a number >= 0 or inf"),
    (lambda: C.clip_per_sample_(np.ones((2, 3)), NAN), "max_norm must be a number >= 0 or inf"),
    (lambda: C.clip_per_sample_(np.ones((2, 3)), 1.0, NAN),
     "noise_multiplier must be a finite number >= 0"),
    (lambda: C.ClipGradNorm(NAN), "max_norm must be a number >= 0 or inf"),
    (lambda: C.ClipGradValue(NAN), "clip_value must be a number >= 0 or inf"),
    (lambda: C.AdaptiveGradClip(NAN), "clipping must be a finite number > 0"),
    (lambda: C.AutoClip(NAN), r"percentile must be a number in \[0, 100\]"),
    (lambda: C.ZClip(alpha=NAN), r"alpha must be a number in \[0, 1\)"),
    (lambda: C.ZClip(z_thresh=NAN), "z_thresh must be a finite number > 0"),
    (lambda: C.ZClip(max_norm=NAN), "max_norm must be a number >= 0 or inf"),
    (lambda: C.ZClip(eps=NAN), "eps must be a number >= 0 or inf"),
    (lambda: C.LossScaler(NAN), "init_scale must be a finite number > 0"),
    (lambda: C.LossScaler(growth_factor=NAN), "growth_factor must be a finite number > 1"),
    (lambda: C.LossScaler(backoff_factor=NAN), r"backoff_factor must be a number in \(0, 1\)"),
    (lambda: C.LossScaler(max_norm=NAN), "max_norm must be a number >= 0 or inf"),
    (lambda: C.LossScaler().update(NAN), "new_scale must be a finite number > 0"),
    (lambda: C.LossScaler().unscale_and_clip_(_grads(), NAN), "max_norm must be a number >= 0"),
    (lambda: optim.SGD(_opt().param_groups[0]["params"], lr=NAN),
     r"Invalid learning rate: lr must be a finite number >= 0, got nan"),
    (lambda: optim.SGD([tc.nn.Parameter(np.zeros(1))], momentum=NAN),
     "momentum must be a finite number >= 0"),
    (lambda: optim.SGD([tc.nn.Parameter(np.zeros(1))], dampening=NAN),
     r"Invalid dampening value: dampening must be a finite number, got nan"),
    (lambda: optim.SGD([tc.nn.Parameter(np.zeros(1))], weight_decay=NAN),
     "weight_decay must be a finite number >= 0"),
    (lambda: optim.Adam([tc.nn.Parameter(np.zeros(1))], eps=NAN),
     "eps must be a finite number >= 0"),
    (lambda: optim.Adam([tc.nn.Parameter(np.zeros(1))], betas=(0.9, NAN)),
     r"Invalid beta parameter at index 1: betas\[1\] must be a number in \[0, 1\), got nan"),
    (lambda: S.StepLR(_opt(), 3, NAN), "gamma must be a finite number >= 0"),
    (lambda: S.MultiStepLR(_opt(), [2], NAN), "gamma must be a finite number >= 0"),
    (lambda: S.ExponentialLR(_opt(), NAN), "gamma must be a finite number >= 0"),
    (lambda: S.ConstantLR(_opt(), NAN), r"factor must be a number in \(0, 1\]"),
    (lambda: S.LinearLR(_opt(), NAN), r"start_factor must be a number in \(0, 1\]"),
    (lambda: S.LinearLR(_opt(), end_factor=NAN), r"end_factor must be a number in \[0, 1\]"),
    (lambda: S.PolynomialLR(_opt(), power=NAN), "power must be a finite number"),
    (lambda: S.CosineAnnealingLR(_opt(), 5, NAN), "eta_min must be a finite number >= 0"),
    (lambda: S.CosineAnnealingWarmRestarts(_opt(), 5, eta_min=NAN), "eta_min must be a finite"),
    (lambda: S.OneCycleLR(_opt(), NAN, total_steps=5), "max_lr must be a finite number > 0"),
    (lambda: S.OneCycleLR(_opt(), 0.1, total_steps=5, pct_start=NAN),
     r"pct_start must be a number in \[0, 1\]"),
    (lambda: S.OneCycleLR(_opt(), 0.1, total_steps=5, div_factor=NAN), "div_factor must be"),
    (lambda: S.ReduceLROnPlateau(_opt(), factor=NAN), r"factor must be a number in \[0, 1\)"),
    (lambda: S.ReduceLROnPlateau(_opt(), threshold=NAN), "threshold must be a finite number"),
    (lambda: S.ReduceLROnPlateau(_opt(), eps=NAN), "eps must be a finite number >= 0"),
    (lambda: S.ReduceLROnPlateau(_opt(), min_lr=NAN), "min_lr must be a finite number >= 0"),
    (lambda: S.ReduceLROnPlateau(_opt(), min_lr=[NAN]), r"min_lr\[0\] must be a finite number"),
]


@pytest.mark.parametrize("call, message", NAN_CASES)
def test_nan_arguments_get_the_true_rule(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    text = str(info.value)
    assert "nan" in text
    for wrong in ("inf allowed", "[-inf", ">= -inf", "-inf, inf"):
        assert wrong not in text, text


# ---- tc.save: a missing folder, a symbolic link --------------------------------------------
def test_save_into_a_missing_folder_names_the_path(tmp_path):
    target = tmp_path / "nope" / "m.npz"
    with pytest.raises(FileNotFoundError) as info:
        tc.save({"x": 1}, target)
    text = str(info.value)
    assert str(target) in text and "does not exist" in text and ".tmp-" not in text
    assert not (tmp_path / "nope").exists()


def test_save_under_a_file_names_the_path(tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(NotADirectoryError, match="is not a folder") as info:
        tc.save({"x": 1}, tmp_path / "afile" / "m.npz")
    assert ".tmp-" not in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_save_into_a_read_only_folder_names_the_path(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError) as info:
            tc.save({"x": 1}, folder / "m.npz")
    finally:
        folder.chmod(0o755)
    assert str(folder / "m.npz") in str(info.value) and ".tmp-" not in str(info.value)


def test_save_through_a_symlink_writes_the_target(tmp_path):
    real = tmp_path / "store" / "real.npz"
    real.parent.mkdir()
    tc.save({"x": 1}, real)
    real.chmod(0o600)
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    tc.save({"x": 2}, link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert tc.load(real) == {"x": 2} and tc.load(link) == {"x": 2}
    assert real.stat().st_mode & 0o777 == 0o600  # the target's mode is kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.npz", "store"]
    assert [p.name for p in real.parent.iterdir()] == ["real.npz"]  # no temporary left


def test_save_through_a_dangling_or_chained_symlink(tmp_path):
    dangling = tmp_path / "d.npz"
    dangling.symlink_to("made.npz")  # relative, as open() resolves it
    tc.save({"x": 3}, dangling)
    assert dangling.is_symlink() and tc.load(tmp_path / "made.npz") == {"x": 3}
    hop = tmp_path / "hop.npz"
    hop.symlink_to(dangling)
    tc.save({"x": 4}, hop)
    assert hop.is_symlink() and dangling.is_symlink()
    assert tc.load(tmp_path / "made.npz") == {"x": 4}


def test_save_through_a_symlink_loop_is_an_error(tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(OSError, match="symbolic links"):
        tc.save({"x": 1}, a)
    assert a.is_symlink() and b.is_symlink()


# ---- optimizers refuse gradients the clip functions refuse ---------------------------------
def _params():
    return [tc.nn.Parameter(np.ones(3, np.float32)), tc.nn.Parameter(np.ones((2, 2)))]


@pytest.mark.parametrize("make", [lambda ps, **kw: optim.SGD(ps, lr=0.1, momentum=0.9, **kw),
                                  lambda ps, **kw: optim.Adam(ps, lr=0.1, **kw),
                                  lambda ps, **kw: optim.AdamW(ps, lr=0.1, **kw)])
@pytest.mark.parametrize("bad, exc, match", [
    (np.ones((2, 2), np.int64), TypeError, "dtype int64.*floating point"),
    (np.ones((2, 2), bool), TypeError, "dtype bool"),
    (np.ones(4), ValueError, r"shape \(4,\).*\(2, 2\)"),
    ([[1.0, 1.0], [1.0, 1.0]], TypeError, "numpy array"),
])
def test_optimizers_refuse_bad_gradients_before_changing_anything(make, bad, exc, match):
    ps = _params()
    zclip = C.ZClip(warmup_steps=1)
    opt = make(ps, clipper=zclip)
    for p in ps:
        p.grad = np.ones(p.shape, p.dtype)
    opt.step()
    data = [p.data.copy() for p in ps]
    state = {k: {n: np.copy(v) for n, v in s.items()} for k, s in
             opt.state_dict()["state"].items()}
    clip_state = zclip.state_dict()
    ps[0].grad = np.ones(3, np.float32)
    ps[1].grad = bad
    with pytest.raises(exc, match=match) as info:
        opt.step()
    assert "param_groups[0]['params'][1].grad" in str(info.value)
    for p, d in zip(ps, data, strict=True):
        np.testing.assert_array_equal(p.data, d)
    after = opt.state_dict()["state"]
    for k in state:
        for n in state[k]:
            np.testing.assert_array_equal(after[k][n], state[k][n])
    assert zclip.state_dict() == clip_state  # the clipper did not run either
    np.testing.assert_array_equal(ps[0].grad, np.ones(3))  # nor scale a gradient


# ---- clip_per_sample_: noise_multiplier must be finite -------------------------------------
def test_infinite_noise_multiplier_raises():
    g = np.ones((4, 3))
    with pytest.raises(ValueError, match="noise_multiplier must be a finite number >= 0, got inf"):
        C.clip_per_sample_(g, 1.0, INF, rng=0)
    np.testing.assert_array_equal(g, 1.0)
    with pytest.raises(ValueError, match="noise_multiplier must be a finite number >= 0"):
        C.clip_per_sample_(g, 1.0, -1.0)
    with pytest.raises(ValueError, match="needs a finite max_norm"):
        C.clip_per_sample_(g, INF, 1.0, rng=0)  # the std would be inf
    out = C.clip_per_sample_(g, INF, 0.0)  # no noise: an infinite max_norm is fine
    assert np.isfinite(out.grads[0]).all()


# ---- backend="numba" where numba cannot be imported ----------------------------------------
BLOCK = textwrap.dedent("""
    import sys

    class _Block:
        def find_spec(self, name, path=None, target=None):
            if name == BLOCKED or name.startswith(BLOCKED + "."):
                raise ModuleNotFoundError(f"No module named {BLOCKED!r}")

    sys.meta_path.insert(0, _Block())
    import numpy as np
    from tinyclipnn import clip as C
    g = np.ones(8, np.float32)
    try:
        C.clip_grad_norm_([g], 1.0, backend="numba")
    except Exception as e:
        print("ERROR", type(e).__name__, e)
    print("UNTOUCHED", bool((g == 1).all()))
    print("AUTO", C.clip_grad_norm_([g], 1.0, backend="auto"))
""")


@pytest.mark.timeout(300)
@pytest.mark.parametrize("blocked", ["numba", "llvmlite"])
def test_backend_numba_without_numba_names_the_fix(blocked):
    code = f"BLOCKED = {blocked!r}\n" + BLOCK
    r = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                       text=True, timeout=240, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr[-2000:]
    error = next(ln for ln in r.stdout.splitlines() if ln.startswith("ERROR"))
    assert error.startswith("ERROR ImportError backend='numba'"), error
    assert "install numba" in error and "backend='numpy'" in error and "'auto'" in error
    assert blocked in error  # the cause
    assert "UNTOUCHED True" in r.stdout
    assert "AUTO 2.828" in r.stdout  # "auto" falls back to numpy


# ---- integer arguments, bools, numpy scalars -----------------------------------------------
INTEGER_ARGUMENTS = [  # (optimizer, value) -> the call
    lambda o, v: C.AutoClip(history=v),
    lambda o, v: C.ZClip(warmup_steps=v),
    lambda o, v: C.LossScaler(growth_interval=v),
    lambda o, v: S.StepLR(o, v),
    lambda o, v: S.StepLR(o, 3, last_epoch=v),
    lambda o, v: S.ConstantLR(o, total_iters=v),
    lambda o, v: S.LinearLR(o, total_iters=v),
    lambda o, v: S.PolynomialLR(o, total_iters=v),
    lambda o, v: S.CosineAnnealingLR(o, v),
    lambda o, v: S.CosineAnnealingWarmRestarts(o, v),
    lambda o, v: S.CosineAnnealingWarmRestarts(o, 3, T_mult=v),
    lambda o, v: S.MultiStepLR(o, [v]),
    lambda o, v: S.OneCycleLR(o, 0.1, total_steps=v),
    lambda o, v: S.OneCycleLR(o, 0.1, epochs=v, steps_per_epoch=2),
    lambda o, v: S.ReduceLROnPlateau(o, patience=v),
    lambda o, v: S.ReduceLROnPlateau(o, cooldown=v),
    lambda o, v: S.SequentialLR(o, [S.StepLR(o, 2), S.StepLR(o, 3)], [v]),
]


def _resumable(make, v):
    """``last_epoch >= 0`` resumes a schedule: the groups need ``initial_lr``."""
    o = _opt()
    for g in o.param_groups:
        g["initial_lr"] = g["lr"]
    return make(o, v)


@pytest.mark.parametrize("make", INTEGER_ARGUMENTS)
@pytest.mark.parametrize("bad", [5.0, "5", True, np.float64(5.0)])
def test_integer_arguments_raise_type_error_for_non_integers(make, bad):
    with pytest.raises(TypeError, match="integer"):
        _resumable(make, bad)


@pytest.mark.parametrize("make", INTEGER_ARGUMENTS)
def test_integer_arguments_take_numpy_integers(make):
    _resumable(make, np.int64(3))


NUMBER_ARGUMENTS = [
    lambda v: C.clip_grad_norm_(_grads(), v),
    lambda v: C.clip_grad_norm_(_grads(), 1.0, v),
    lambda v: C.clip_grad_value_(_grads(), v),
    lambda v: C.clip_grads_with_norm_(_grads(), v, 1.0),
    lambda v: C.clip_grad_norm_per_tensor_(_grads(), v),
    lambda v: C.clip_per_sample_(np.ones((2, 3)), v),
    lambda v: C.ClipGradNorm(v),
    lambda v: C.AdaptiveGradClip(v),
    lambda v: C.AutoClip(v),
    lambda v: C.ZClip(z_thresh=v),
    lambda v: C.LossScaler(v),
    lambda v: optim.SGD([tc.nn.Parameter(np.zeros(1))], lr=v),
    lambda v: optim.SGD([tc.nn.Parameter(np.zeros(1))], momentum=v),
    lambda v: optim.Adam([tc.nn.Parameter(np.zeros(1))], eps=v),
    lambda v: S.StepLR(_opt(), 3, v),
    lambda v: S.ReduceLROnPlateau(_opt(), threshold=v),
    lambda v: S.OneCycleLR(_opt(), v, total_steps=5),
]


@pytest.mark.parametrize("make", NUMBER_ARGUMENTS)
def test_bool_is_never_a_number(make):
    with pytest.raises(TypeError):
        make(True)


@pytest.mark.parametrize("make", NUMBER_ARGUMENTS)
@pytest.mark.parametrize("scalar", [np.float32(2.0), np.float64(2.0), np.array(2.0)])
def test_numpy_scalars_are_numbers(make, scalar):
    make(scalar)


def test_flags_take_only_bools():
    with pytest.raises(TypeError, match="enabled must be True or False"):
        C.LossScaler(enabled="False")
    with pytest.raises(TypeError, match="measure_norm"):
        C.ClipGradValue(1.0, measure_norm="yes")
    with pytest.raises(TypeError, match="amsgrad must be True or False"):
        optim.Adam([tc.nn.Parameter(np.zeros(1))], amsgrad="yes")
    with pytest.raises(TypeError, match="nesterov"):
        optim.SGD([tc.nn.Parameter(np.zeros(1))], momentum=0.9, nesterov=1)
    optim.Adam([tc.nn.Parameter(np.zeros(1))], amsgrad=np.bool_(True))


def test_deprecated_epoch_argument_is_an_integer():
    opt = _opt()
    sched = S.StepLR(opt, 3)
    opt.step()
    with pytest.warns(UserWarning), pytest.raises(TypeError, match="epoch must be an integer"):
        sched.step(2.5)
    assert sched.last_epoch == 0
    plateau = S.ReduceLROnPlateau(opt)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="epoch must be an integer"):
        plateau.step(1.0, epoch=-3)
    warm = S.CosineAnnealingWarmRestarts(opt, 3)
    with pytest.raises(ValueError, match="epoch must be a finite number >= 0"):
        warm.step(-1.0)
    warm.step(1.5)  # fractional epochs are its feature
    assert math.isclose(warm.T_cur, 1.5)
