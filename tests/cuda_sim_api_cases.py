"""``tinyclipnn.clip`` with ``backend="cuda"`` under numba's simulator: every method equals the
numpy backend; device gradients (numba device arrays, a device ``GradBuffer``) are clipped in
place and give ``DeviceScalar`` norms. Run by ``tests/test_cuda_sim.py`` in a subprocess with
``NUMBA_ENABLE_CUDASIM=1`` (see ``cuda_sim_cases.py``)."""

import os

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":  # pragma: no cover - guard for direct runs
    raise RuntimeError("run through tests/test_cuda_sim.py (needs NUMBA_ENABLE_CUDASIM=1)")

from types import SimpleNamespace

import numpy as np
import pytest
from cuda_sim_support import setup_simulator
from numba import cuda

import tinyclipnn.clip as C
from tinyclipnn.kernels.cuda import _config

setup_simulator()
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.fixture(autouse=True)
def _small_blocks():
    old = _config.configure(block=4, items=4)
    with np.errstate(all="ignore"):
        yield
    _config.configure(*old)


def _grads(dtype=np.float32, scale=3.0, special=False):
    rng = np.random.default_rng(5)
    out = [(rng.standard_normal(s) * scale).astype(dtype) for s in [(4, 5), (7,), (2, 3, 2)]]
    if special:
        out[1][3] = np.inf
    return out


def _params(arrs):
    return [SimpleNamespace(data=np.ones_like(a), grad=a.copy()) for a in arrs]


def _same(ps, qs):
    for p, q in zip(ps, qs, strict=True):
        np.testing.assert_allclose(np.asarray(p.grad), np.asarray(q.grad), rtol=1e-6)


def test_available_backends_and_reason():
    assert "cuda" in C.available_backends()
    assert C.cuda_unavailable_reason() is None


@pytest.mark.parametrize("p", [2.0, np.inf])
@pytest.mark.parametrize("policy", ["propagate", "skip", "zero"])
def test_every_host_method_matches_numpy(p, policy):
    arrs = _grads(special=policy != "propagate")
    a, b = _params(arrs), _params(arrs)
    ta = C.clip_grad_norm_(a, 1.0, p, nonfinite=policy, backend="cuda")
    tb = C.clip_grad_norm_(b, 1.0, p, nonfinite=policy, backend="numpy")
    assert isinstance(ta, float)
    np.testing.assert_allclose(ta, tb, rtol=1e-12)
    _same(a, b)
    na = C.clip_grad_norm_per_tensor_(a, 0.5, p, backend="cuda")
    nb = C.clip_grad_norm_per_tensor_(b, 0.5, p, backend="numpy")
    np.testing.assert_allclose(na, nb, rtol=1e-12, equal_nan=True)
    _same(a, b)


def test_value_agc_per_sample_stateful_match_numpy():
    arrs = _grads()
    a, b = _params(arrs), _params(arrs)
    C.clip_grad_value_(a, 0.5, backend="cuda")
    C.clip_grad_value_(b, 0.5, backend="numpy")
    _same(a, b)
    a, b = _params(_grads()), _params(_grads())
    C.adaptive_clip_grad_(a, 0.05, backend="cuda")
    C.adaptive_clip_grad_(b, 0.05, backend="numpy")
    _same(a, b)
    xa, xb = _grads(np.float64), _grads(np.float64)
    ra = C.clip_per_sample_([x[:2] for x in xa], 1.0, backend="cuda")
    rb = C.clip_per_sample_([x[:2] for x in xb], 1.0, backend="numpy")
    np.testing.assert_allclose(ra.norms, rb.norms, rtol=1e-12)
    for u, v in zip(ra.grads, rb.grads, strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-12)
    for make in (lambda bk: C.AutoClip(50.0, backend=bk), lambda bk: C.ZClip(backend=bk)):
        ca, cb = make("cuda"), make("numpy")
        a, b = _params(_grads()), _params(_grads())
        for _ in range(3):
            np.testing.assert_allclose(ca(a).total_norm, cb(b).total_norm, rtol=1e-12)
        _same(a, b)


@pytest.mark.parametrize("backend", ["auto", "cuda"])
def test_device_arrays_no_sync_path(backend):
    arrs = _grads()
    devs = [cuda.to_device(x) for x in arrs]
    host = _params(arrs)
    total = C.clip_grad_norm_(devs, 1.0, backend=backend)
    want = C.clip_grad_norm_(host, 1.0, backend="numpy")
    assert isinstance(total, C.DeviceScalar)
    np.testing.assert_allclose(float(total), want, rtol=1e-12)
    assert total.item() == float(total) and f"{total:.3f}" == f"{want:.3f}" and total > 0
    for d, p in zip(devs, host, strict=True):
        np.testing.assert_allclose(d.copy_to_host(), p.grad, rtol=1e-6)
    t2 = C.get_total_norm(devs)
    C.clip_grads_with_norm_(devs, 0.5, t2)  # DeviceScalar norm read by the kernel
    np.testing.assert_allclose(float(C.get_total_norm(devs)), 0.5, rtol=1e-5)


def test_device_error_policy_and_wrong_backend():
    devs = [cuda.to_device(x) for x in _grads(special=True)]
    before = [d.copy_to_host() for d in devs]
    with pytest.raises(C.NonFiniteNormError):
        C.clip_grad_norm_(devs, 1.0, error_if_nonfinite=True)
    for d, b in zip(devs, before, strict=True):
        np.testing.assert_array_equal(d.copy_to_host(), b)  # untouched
    with pytest.raises(ValueError, match="device gradients need"):
        C.clip_grad_norm_(devs, 1.0, backend="numba")


def test_device_gradbuffer():
    arrs = _grads(np.float64)
    ps = _params(arrs)
    ps[2].grad = None
    buf = C.GradBuffer(ps, device="cuda")
    assert "device='cuda'" in repr(buf) and not isinstance(buf.flat, np.ndarray)
    host = _params(arrs)
    host[2].grad = np.zeros_like(arrs[2])
    mon = C.GradMonitor()
    total = C.clip_grad_norm_(buf, 1.0, monitor=mon)
    want = C.clip_grad_norm_(host, 1.0, backend="numpy")
    np.testing.assert_allclose(float(total), want, rtol=1e-12)
    for p, h in zip(ps, host, strict=True):
        np.testing.assert_allclose(p.grad.copy_to_host(), h.grad, rtol=1e-12)
    norms = C.clip_grad_norm_per_tensor_(buf, 0.1)  # the views form one run: one launch
    np.testing.assert_allclose(norms, C.clip_grad_norm_per_tensor_(host, 0.1), rtol=1e-12)
    C.clip_grad_value_(buf, 0.01)
    assert np.abs(buf.flat.copy_to_host()).max() <= 0.01
    ps[0].grad = np.full(arrs[0].shape, 2.0)  # replaced by a host array: copied in on sync
    np.testing.assert_allclose(float(C.get_total_norm(buf)), np.sqrt(4.0 * 20 + (
        np.concatenate([p.grad.copy_to_host().ravel() for p in ps[1:]]) ** 2).sum()))
    buf.zero_grad()
    assert float(C.get_total_norm(buf)) == 0.0


def _dev_params(arrs):
    return [SimpleNamespace(data=cuda.to_device(np.ones_like(a) * 0.5), grad=cuda.to_device(a))
            for a in arrs]


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_agc_and_per_sample_on_device_arrays(dtype):
    arrs = _grads(dtype)
    dev, host = _dev_params(arrs), [SimpleNamespace(data=np.ones_like(a) * 0.5, grad=a.copy())
                                    for a in arrs]
    C.adaptive_clip_grad_(dev, 0.05)  # "auto" picks cuda for device arrays
    C.adaptive_clip_grad_(host, 0.05, backend="numpy")
    for d, h in zip(dev, host, strict=True):
        np.testing.assert_array_equal(d.grad.copy_to_host(), h.grad)
    xs = [(np.arange(24.0).reshape(4, 6) - 5).astype(dtype), np.ones((4, 3), dtype)]
    dres = C.clip_per_sample_([cuda.to_device(x) for x in xs], 2.0)
    hres = C.clip_per_sample_([x.copy() for x in xs], 2.0, backend="numpy")
    np.testing.assert_allclose(dres.norms, hres.norms, rtol=1e-12)
    assert dres.num_clipped == hres.num_clipped
    for u, v in zip(dres.grads, hres.grads, strict=True):
        assert not isinstance(u, np.ndarray)  # sums stay on the device
        np.testing.assert_array_equal(u.copy_to_host(), v)
    noisy = C.clip_per_sample_([cuda.to_device(x) for x in xs], 2.0, 1.0, rng=0)
    assert noisy.grads[0].copy_to_host().dtype == dtype


def test_float16_device_gradients_every_method():
    arrs = _grads(np.float16)
    for policy in ("propagate", "skip"):
        devs = [cuda.to_device(a) for a in arrs]
        host = [a.copy() for a in arrs]
        t = C.clip_grad_norm_(devs, 1.0, nonfinite=policy)
        np.testing.assert_allclose(float(t), C.clip_grad_norm_(host, 1.0, backend="numpy"),
                                   rtol=1e-12)
        for d, h in zip(devs, host, strict=True):
            np.testing.assert_array_equal(d.copy_to_host(), h)
    devs = [cuda.to_device(a) for a in arrs]
    host = [a.copy() for a in arrs]
    C.clip_grad_value_(devs, 0.3)
    C.clip_grad_value_(host, 0.3, backend="numpy")
    for d, h in zip(devs, host, strict=True):
        np.testing.assert_array_equal(d.copy_to_host(), h)
    np.testing.assert_allclose(C.clip_grad_norm_per_tensor_(devs, 0.1),
                               C.clip_grad_norm_per_tensor_(host, 0.1, backend="numpy"),
                               rtol=1e-12)
    scaler = C.LossScaler(init_scale=4.0)
    devs = [cuda.to_device(a) for a in arrs]
    assert scaler.unscale_and_clip_(devs, 1e9) == pytest.approx(
        C.get_total_norm(arrs, backend="numpy") / 4.0, rel=1e-12)


def test_group_on_device_gives_the_host_total():
    class OneRank:
        def allgather(self, obj):
            return [obj]

    devs = [cuda.to_device(a) for a in _grads()]
    t = C.get_total_norm(devs, group=OneRank())
    assert isinstance(t, float)
    np.testing.assert_allclose(t, C.get_total_norm(_grads(), backend="numpy"), rtol=1e-12)


def test_group_disagreement_on_device_raises_before_scaling():
    """Issue 22 on the cuda backend: a second "rank" whose settings differ in every value."""
    class OtherRankDisagrees:
        def allgather(self, obj):
            partials, call, values = obj
            return [obj, (partials, call, tuple(f"other {v}" for v in values))]

    devs = [cuda.to_device(a) for a in _grads()]
    with pytest.raises(ValueError, match=r"disagree on max_norm \[1.0 on rank 0; 'other 1.0'"):
        C.clip_grad_norm_(devs, 1.0, group=OtherRankDisagrees())
    for d, a in zip(devs, _grads(), strict=True):
        np.testing.assert_array_equal(d.copy_to_host(), a)
