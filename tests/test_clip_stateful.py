"""GradBuffer, GradMonitor, AutoClip, ZClip, AGC and per-sample (DP-SGD) clipping."""

from types import SimpleNamespace

import numpy as np
import pytest

import tinyclipnn.clip as C

BACKENDS = ["numpy", "numba"]


def make_params(shapes=((4, 3), (3,), (2, 2, 2)), dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return [SimpleNamespace(data=rng.standard_normal(s).astype(dtype), grad=None) for s in shapes]


def fill_grads(ps, scale=1.0, seed=1):
    rng = np.random.default_rng(seed)
    for p in ps:
        g = (rng.standard_normal(p.data.shape) * scale).astype(p.data.dtype)
        if p.grad is None:
            p.grad = g
        else:
            p.grad += g


@pytest.mark.parametrize("backend", BACKENDS)
def test_grad_buffer_views_and_clipping(backend):
    ps = make_params()
    ps[0].grad = np.ones((4, 3), np.float32)
    buf = C.GradBuffer(ps)
    assert buf.flat.size == 12 + 3 + 8 and len(buf) == 3
    np.testing.assert_array_equal(ps[0].grad, 1.0)
    assert all(np.shares_memory(p.grad, buf.flat) for p in ps)
    fill_grads(ps, 10.0)
    ref = [p.grad.copy() for p in ps]
    want = C.clip_grad_norm_(ref, 1.0, backend="numpy")
    assert C.clip_grad_norm_(buf, 1.0, backend=backend) == pytest.approx(want, rel=1e-6)
    for p, r in zip(ps, ref, strict=True):
        np.testing.assert_allclose(p.grad, r, rtol=1e-6)
    C.clip_grad_value_(buf, 0.01, backend=backend)
    assert np.abs(buf.flat).max() <= 0.01
    ps[1].grad = np.full(3, 100.0, np.float32)  # replaced: re-attached on the next call
    ps[2].grad = None  # None counts as zero
    assert C.get_total_norm(buf, backend=backend) == pytest.approx(
        np.sqrt(np.sum(ps[0].grad.astype(np.float64) ** 2) + 3e4), rel=1e-6
    )
    assert np.shares_memory(ps[1].grad, buf.flat) and ps[2].grad is None
    buf.zero_grad()
    assert not buf.flat.any() and all(np.shares_memory(p.grad, buf.flat) for p in ps)
    norms = C.clip_grad_norm_per_tensor_(buf, 1.0, backend=backend)
    assert norms.shape == (3,)


def test_grad_buffer_errors():
    with pytest.raises(TypeError, match="one dtype"):
        C.GradBuffer(make_params(((2,),), np.float32) + make_params(((2,),), np.float64))
    with pytest.raises(TypeError):
        C.GradBuffer([np.ones(3)])
    with pytest.raises(TypeError):
        C.GradBuffer([SimpleNamespace(data=np.ones(3, np.int32), grad=None)])


@pytest.mark.parametrize("backend", BACKENDS)
def test_monitor_records(backend):
    mon = C.GradMonitor()
    ps = make_params()
    buf = C.GradBuffer(ps)
    fill_grads(ps, 10.0)
    total = C.clip_grad_norm_(buf, 1.0, backend=backend, monitor=mon)
    fill_grads(ps, 1e-3)
    C.clip_grad_norm_(ps, 1e3, backend=backend, monitor=mon)
    C.clip_grad_value_(ps, 1e-6, backend=backend, monitor=mon)
    d = mon.as_dict()
    assert len(mon) == 3 and d["total_norm"][0] == total
    assert d["clipped"].tolist() == [True, False, True]
    assert d["coef"][0] == pytest.approx(1.0 / (total + 1e-6)) and d["coef"][1] == 1.0
    assert d["per_tensor_norms"].shape == (3, 3)
    assert np.sqrt(np.sum(d["per_tensor_norms"][0] ** 2)) == pytest.approx(total)
    mon.enabled = False
    C.clip_grad_norm_(ps, 1.0, monitor=mon)
    assert len(mon) == 3
    mon.reset()
    assert len(mon) == 0 and "0 steps" in repr(mon)


def test_autoclip_percentile_history():
    clip = C.AutoClip(percentile=50.0, history=3)
    seen = []
    for scale in [1.0, 2.0, 3.0, 100.0]:
        g = [np.full(4, scale / 2)]  # norm == scale
        total = clip(g).total_norm
        seen.append(total)
        thr = np.percentile(seen[-3:], 50.0)
        assert np.linalg.norm(g[0]) == pytest.approx(min(scale, thr), rel=1e-5)
    assert list(clip.state_dict()["norms"]) == [2.0, 3.0, 100.0]
    other = C.AutoClip(50.0, history=3)
    other.load_state_dict(clip.state_dict())
    assert list(other.norms) == [2.0, 3.0, 100.0]
    clip([np.array([np.inf])])  # non-finite norms never enter the history
    assert len(clip.norms) == 3 and np.isfinite(list(clip.norms)).all()
    with pytest.raises(ValueError):
        C.AutoClip(percentile=120)
    with pytest.raises(ValueError):
        C.AutoClip(history=0)


def reference_zclip(norms, alpha, z_thresh, warmup, mode):
    """Straight transcription of the ZClip algorithm; returns the post-clip norms."""
    out, buf, mean, var = [], [], None, None
    for g in norms:
        if mean is None:
            buf.append(g)
            if len(buf) == warmup:
                mean, var = np.mean(buf), np.var(buf)
            out.append(g)
            continue
        std = var**0.5
        z = (g - mean) / (std + 1e-6)
        clipped = g
        if z > z_thresh:
            clipped = mean + z_thresh**2 * std / z if mode == "zscore" else mean
        mean = alpha * mean + (1 - alpha) * clipped
        var = alpha * var + (1 - alpha) * (clipped - mean) ** 2
        out.append(clipped)
    return out


@pytest.mark.parametrize("mode", ["zscore", "mean"])
def test_zclip_matches_algorithm(mode):
    rng = np.random.default_rng(3)
    norms = list(1.0 + 0.1 * rng.standard_normal(40))
    norms[30] = 50.0  # a spike
    want = reference_zclip(norms, 0.9, 2.5, 10, mode)
    clip = C.ZClip(alpha=0.9, z_thresh=2.5, warmup_steps=10, mode=mode)
    got = []
    for n in norms:
        g = [np.full(4, n / 2)]
        assert clip(g).total_norm == pytest.approx(n)
        got.append(np.linalg.norm(g[0]))
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert got[30] < 2.0
    state = clip.state_dict()
    clone = C.ZClip(alpha=0.9, warmup_steps=10, mode=mode)
    clone.load_state_dict(state)
    assert clone.mean == clip.mean


def test_zclip_hard_cap_and_errors():
    clip = C.ZClip(warmup_steps=2, max_norm=1.0)
    g = [np.full(4, 5.0)]
    clip(g)
    assert np.linalg.norm(g[0]) == pytest.approx(1.0, rel=1e-5)
    for kw in ({"alpha": 1.0}, {"mode": "x"}, {"warmup_steps": 0}, {"z_thresh": -1}):
        with pytest.raises(ValueError):
            C.ZClip(**kw)


@pytest.mark.parametrize("backend", BACKENDS)
def test_agc_matches_formula(backend):
    ps = make_params(((6, 2, 3), (5,), (4, 4)), np.float64)
    fill_grads(ps, 1.0)
    ps[1].grad *= 1e-9  # below the threshold: untouched
    before = [p.grad.copy() for p in ps]
    C.adaptive_clip_grad_(ps, clipping=0.05, eps=1e-3, backend=backend)
    for p, g0 in zip(ps, before, strict=True):
        rows = p.data.shape[0] if p.data.ndim > 1 else 1
        w = np.linalg.norm(p.data.reshape(rows, -1), axis=1)
        gn = np.linalg.norm(g0.reshape(rows, -1), axis=1)
        mx = 0.05 * np.maximum(w, 1e-3)
        f = np.where(gn > mx, mx / np.maximum(gn, 1e-6), 1.0)
        np.testing.assert_allclose(p.grad, (g0.reshape(rows, -1) * f[:, None]).reshape(g0.shape))
    np.testing.assert_array_equal(ps[1].grad, before[1])


def test_agc_torch_timm_style():
    torch = pytest.importorskip("torch")
    ps = make_params(((5, 3), (7,)), np.float32)
    fill_grads(ps, 1.0)
    want = []
    for p in ps:  # timm.utils.agc.adaptive_clip_grad, written out
        w, g = torch.from_numpy(p.data), torch.from_numpy(p.grad.copy())
        dims = tuple(range(1, w.ndim)) if w.ndim > 1 else None

        def unorm(x, dims=dims):
            return x.norm(dim=dims, keepdim=True) if dims else x.norm()

        mx = unorm(w).clamp(min=1e-3) * 0.01
        gn = unorm(g)
        want.append(torch.where(gn < mx, g, g * (mx / gn.clamp(min=1e-6))).numpy())
    C.adaptive_clip_grad_(ps, 0.01)
    for p, w in zip(ps, want, strict=True):
        np.testing.assert_allclose(p.grad, w, rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_per_sample_clipping(backend):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((8, 3, 2)).astype(np.float32)
    b = rng.standard_normal((8, 5))
    b[0] *= 100
    n = np.sqrt((a.reshape(8, -1).astype(np.float64) ** 2).sum(1) + (b**2).sum(1))
    f = np.minimum(1.0, 1.0 / (n + 1e-6))
    want_a = (a * f[:, None, None]).sum(0)
    want_b = (b * f[:, None]).sum(0)
    res = C.clip_per_sample_([a, b], 1.0, backend=backend)
    np.testing.assert_allclose(res.grads[0], want_a, rtol=1e-5)
    np.testing.assert_allclose(res.grads[1], want_b, rtol=1e-10)
    np.testing.assert_allclose(res.norms, n, rtol=1e-6)
    assert res.num_clipped == int((n > 1.0).sum()) and res.grads[0].dtype == np.float32
    assert np.sqrt((b**2).sum(1)).max() <= 1.0 + 1e-6  # clipped in place
    noisy = C.clip_per_sample_([b.copy()], 1.0, noise_multiplier=1.0, rng=0, backend=backend)
    noisy2 = C.clip_per_sample_([b.copy()], 1.0, noise_multiplier=1.0, rng=0, backend=backend)
    np.testing.assert_array_equal(noisy.grads[0], noisy2.grads[0])
    assert not np.allclose(noisy.grads[0], b.sum(0))
    with pytest.raises(ValueError, match="batch"):
        C.clip_per_sample_([a, b[:3]], 1.0)
    empty = C.clip_per_sample_(np.zeros((0, 4)), 1.0, backend=backend)
    assert empty.grads[0].shape == (4,) and empty.num_clipped == 0


@pytest.mark.parametrize("make", [lambda: C.AutoClip(percentile=50.0),
                                  lambda: C.ZClip(warmup_steps=2),
                                  lambda: C.LossScaler(init_scale=8.0)])
def test_clipper_load_state_dict_keyword_and_atomic(make):
    """PyTorch's argument name (state_dict=) works, and a damaged state changes nothing."""
    source = make()
    for value in (3.0, 1.0, 2.0):
        grad = np.full(4, value, dtype=np.float32)
        if isinstance(source, C.LossScaler):
            source.unscale_and_clip_([grad], max_norm=1.0)
            source.update()
        else:
            source([grad])
    target = make()
    target.load_state_dict(state_dict=source.state_dict())
    assert repr(target.state_dict()) == repr(source.state_dict())
    before = repr(target.state_dict())
    damaged = dict(source.state_dict())
    last_key = list(damaged)[-1]
    damaged[last_key] = ["not", "a", "number"]  # the last field read is bad
    with pytest.raises((TypeError, ValueError, KeyError)):
        target.load_state_dict(damaged)
    assert repr(target.state_dict()) == before
