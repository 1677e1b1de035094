"""LossScaler (PyTorch GradScaler semantics, fused unscale+clip) and "skip means skip" in
``Optimizer.step()``."""

import copy
import math

import numpy as np
import pytest

import tinyclipnn as tc
import tinyclipnn.clip as C
from tinyclipnn import optim

BACKENDS = ["numpy", "numba"]


def _params(dtype=np.float32, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    ps = [tc.nn.Parameter(rng.standard_normal(s).astype(dtype)) for s in [(3, 4), (4,)]]
    for p in ps:
        p.grad = (rng.standard_normal(p.shape) * scale).astype(dtype)
    return ps


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_unscale_and_clip_equals_unscale_then_clip(backend, dtype):
    s = 1024.0
    a, b = _params(dtype, scale=s), _params(dtype, scale=s)
    scaler = C.LossScaler(init_scale=s, backend=backend)
    total = scaler.unscale_and_clip_(a, max_norm=1.0)
    for p in b:  # the unfused way
        p.grad = (p.grad.astype(np.float64) / s).astype(dtype)
    want = C.clip_grad_norm_(b, 1.0, backend=backend)
    assert total == pytest.approx(want, rel=1e-3 if dtype == np.float16 else 1e-12)
    tol = 2e-3 if dtype == np.float16 else 1e-6
    for p, q in zip(a, b, strict=True):
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad, q.grad, rtol=tol, atol=1e-7)


@pytest.mark.parametrize("group", [None, "one rank"])
def test_unscale_and_clip_is_one_read_pass_and_one_write_pass(monkeypatch, group):
    """One fused call (a norm pass, then a scaling pass, inside the kernel); with a
    communicator, whose combine sits between the passes: one norm and one scaling call."""
    from tinyclipnn.clip import _pipeline

    calls = []
    be = _pipeline.backend_for("numba", False)
    for name in ("clip_norm_", "partials", "scale_", "fill_", "clamp_"):
        real = getattr(be, name)
        monkeypatch.setattr(be, name, lambda *a, _r=real, _n=name: calls.append(_n) or _r(*a))
    comm = None if group is None else _OneRank()
    C.LossScaler(init_scale=8.0, backend="numba", group=comm).unscale_and_clip_(
        _params(scale=8.0), 0.1)
    assert calls == (["clip_norm_"] if group is None else ["partials", "scale_"])


class _OneRank:
    """A one-process stand-in for an mpi4py communicator (only ``allgather`` is used)."""

    def allgather(self, obj):
        return [obj]


def test_overflow_skips_and_backs_off_like_gradscaler():
    scaler = C.LossScaler(init_scale=2.0**16, growth_interval=2)
    ps = _params(np.float16)
    opt = optim.SGD(ps, lr=0.1, momentum=0.9)
    before = [p.data.copy() for p in ps]
    ps[0].grad[0, 0] = np.inf
    assert scaler.step(opt) is False
    scaler.update()
    assert scaler.get_scale() == 2.0**15 and opt.skipped_steps == 1
    for p, b in zip(ps, before, strict=True):
        np.testing.assert_array_equal(p.data, b)
    assert opt.state == {}
    for _ in range(2):  # two clean steps: the scale grows back
        for p in ps:
            p.grad = np.full(p.shape, 2.0**15, np.float16)
        assert scaler.step(opt) is True
        scaler.update()
    assert scaler.get_scale() == 2.0**16
    np.testing.assert_allclose(before[1] - ps[1].data, 0.1 * (1 + 1.9), rtol=5e-3)  # fp16
    clone = C.LossScaler()
    clone.load_state_dict(scaler.state_dict())
    assert clone.state_dict() == scaler.state_dict()
    with pytest.raises(RuntimeError, match="no gradients were unscaled"):
        scaler.update()


def test_loss_scaler_as_clipper_skips_inside_optimizer_step():
    ps = _params(np.float16)
    scaler = C.LossScaler(init_scale=256.0, max_norm=1.0)
    opt = optim.Adam(ps, lr=0.1, clipper=scaler)
    ps[1].grad[0] = np.nan
    before = [p.data.copy() for p in ps]
    opt.step()
    scaler.update()
    assert opt.last_clip.skipped and opt.skipped_steps == 1 and opt.state == {}
    for p, b in zip(ps, before, strict=True):
        np.testing.assert_array_equal(p.data, b)
    assert scaler.get_scale() == 128.0  # backed off
    for p in ps:
        p.grad = np.full(p.shape, 128.0 * 4, np.float16)  # unscaled: 4 per element
    opt.step()
    scaler.update()
    rep = opt.last_clip
    assert not rep.skipped and rep.clipped and rep.total_norm == pytest.approx(4 * 4.0)
    assert scaler.get_scale() == 128.0


def test_matches_torch_gradscaler_schedule():
    torch = pytest.importorskip("torch")
    ours = C.LossScaler(init_scale=8.0, growth_factor=2.0, backoff_factor=0.25, growth_interval=3)
    theirs = torch.amp.GradScaler("cpu", init_scale=8.0, growth_factor=2.0, backoff_factor=0.25,
                                  growth_interval=3)
    w = torch.nn.Parameter(torch.ones(3))
    topt = torch.optim.SGD([w], lr=0.1)
    p = _params()[1]
    opt = optim.SGD([p], lr=0.1)
    for overflow in [False, False, True, False, False, False, False, True, False]:
        g = [float("inf") if overflow else 1.0] * 3
        theirs.scale(torch.ones(()))  # GradScaler creates its scale lazily here
        w.grad = torch.tensor(g) * theirs.get_scale()
        p.grad = np.array(g + [1.0], np.float32) * ours.get_scale()
        theirs.step(topt)
        theirs.update()
        ours.step(opt)
        ours.update()
        assert ours.get_scale() == theirs.get_scale()
    assert ours.state_dict()["_growth_tracker"] == theirs.state_dict()["_growth_tracker"]


def _sgd_and_adam(ps):
    return [optim.SGD(ps, lr=0.1, momentum=0.9, clipper=C.ClipGradNorm(1.0, nonfinite="skip")),
            optim.Adam(ps, lr=0.1, clipper=C.ClipGradNorm(1.0, nonfinite="skip"))]


@pytest.mark.parametrize("which", [0, 1])
def test_skip_policy_leaves_parameters_and_state_untouched(which):
    """Bug: nonfinite="skip" left the gradients alone but the optimizer applied the NaN update."""
    ps = _params(np.float64)
    opt = _sgd_and_adam(ps)[which]
    opt.step()  # one real step: state exists
    state = copy.deepcopy(opt.state_dict())
    before = [p.data.copy() for p in ps]
    ps[0].grad = np.full(ps[0].shape, np.nan)
    opt.step()
    assert opt.last_clip.skipped and opt.skipped_steps == 1
    for p, b in zip(ps, before, strict=True):
        np.testing.assert_array_equal(p.data, b)
    after = opt.state_dict()
    assert repr(after) == repr(state)  # momentum buffers, moments, step counts unchanged
    ps[0].grad = np.ones(ps[0].shape)
    opt.step()
    assert not opt.last_clip.skipped and opt.skipped_steps == 1
    assert all(np.isfinite(p.data).all() for p in ps)


def test_zclip_skip_update_on_spike():
    z = C.ZClip(warmup_steps=3, z_thresh=2.0, skip_update_on_spike=True)
    ps = _params(np.float64)
    opt = optim.SGD(ps, lr=0.1, clipper=z)
    for s in (1.0, 1.05, 0.95, 1.0):
        for p in ps:
            p.grad = np.full(p.shape, s)
        opt.step()
        assert not opt.last_clip.skipped
    mean = z.mean
    before = [p.data.copy() for p in ps]
    for p in ps:
        p.grad = np.full(p.shape, 100.0)
    opt.step()
    assert opt.last_clip.skipped and opt.skipped_steps == 1 and z.mean == mean
    for p, b in zip(ps, before, strict=True):
        np.testing.assert_array_equal(p.data, b)
        np.testing.assert_array_equal(p.grad, 100.0)  # not clipped either
    plain = C.ZClip(warmup_steps=3, z_thresh=2.0)
    assert not math.isnan(plain.z_thresh)
