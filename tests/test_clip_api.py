"""clip_grad_norm_ & co.: PyTorch parity (live and golden), robustness, errors, policies."""

import functools
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import tinyclipnn.clip as C

BACKENDS = ["numpy", "numba"]
NORMS = [1.0, 2.0, 3.0, np.inf]
GOLDEN = Path(__file__).parent / "golden" / "clip_golden.npz"


def params(*arrays):
    return [SimpleNamespace(data=np.zeros_like(a), grad=a.copy()) for a in arrays]


def grads(ps):
    return [p.grad for p in ps]


def sample(dtype=np.float32, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(s) * scale).astype(dtype) for s in [(5, 4), (7,), (2, 3, 4)]]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("p", NORMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("max_norm", [0.5, 1e4])
def test_clip_grad_norm_matches_torch(backend, p, dtype, max_norm):
    torch = pytest.importorskip("torch")
    arrs = sample(dtype, 2.0)
    ts = [torch.nn.Parameter(torch.zeros(a.shape, dtype=torch.from_numpy(a).dtype)) for a in arrs]
    for t, a in zip(ts, arrs, strict=True):
        t.grad = torch.from_numpy(a.copy())
    want = torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type=p).item()
    ps = params(*arrs)
    got = C.clip_grad_norm_(ps, max_norm, p, backend=backend)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert got == pytest.approx(want, rel=rtol)
    for g, t in zip(grads(ps), ts, strict=True):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=rtol, atol=0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_value_matches_torch(backend, dtype):
    torch = pytest.importorskip("torch")
    arrs = sample(dtype) + [np.array([np.nan, np.inf, -np.inf, 0.3], dtype)]
    ts = [torch.nn.Parameter(torch.zeros(a.shape, dtype=torch.from_numpy(a).dtype)) for a in arrs]
    for t, a in zip(ts, arrs, strict=True):
        t.grad = torch.from_numpy(a.copy())
    torch.nn.utils.clip_grad_value_(ts, 0.7)
    ps = params(*arrs)
    C.clip_grad_value_(ps, 0.7, backend=backend)
    for g, t in zip(grads(ps), ts, strict=True):
        np.testing.assert_array_equal(g, t.grad.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_golden_torch_results(backend):
    z = np.load(GOLDEN)
    for name in ("f32_clip", "f64_clip", "f32_noclip"):
        inputs = [z[k] for k in sorted(k for k in z.files if k.startswith(f"{name}/in/"))]
        thr = float(z[f"{name}/threshold"])
        rtol = 1e-5 if inputs[0].dtype == np.float32 else 1e-12
        for p in NORMS:
            arrs = [a.copy() for a in inputs]
            total = C.clip_grad_norm_(arrs, thr, p, backend=backend)
            assert total == pytest.approx(float(z[f"{name}/norm{p}/total"]), rel=rtol)
            for i, a in enumerate(arrs):
                np.testing.assert_allclose(a, z[f"{name}/norm{p}/out/{i}"], rtol=rtol)
        arrs = [a.copy() for a in inputs]
        C.clip_grad_value_(arrs, thr * 0.5, backend=backend)
        for i, a in enumerate(arrs):
            np.testing.assert_array_equal(a, z[f"{name}/value/out/{i}"])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype,value", [(np.float32, 1e30), (np.float64, 1e300)])
def test_huge_gradients_give_finite_correct_norm(backend, dtype, value):
    arrs = [np.full((10, 10), value, dtype), np.full(44, -value, dtype)]
    exact = float(dtype(value)) * 12.0
    total = C.clip_grad_norm_(arrs, 1.0, backend=backend)
    assert total == pytest.approx(exact, rel=1e-5)
    got = np.sqrt(sum(np.sum(a.astype(np.float64) ** 2) for a in arrs))
    assert got == pytest.approx(1.0, rel=1e-5)
    assert all(np.isfinite(a).all() and a.dtype == dtype for a in arrs)


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_and_missing_grads(backend):
    assert C.clip_grad_norm_([], 1.0, backend=backend) == 0.0
    assert C.get_total_norm([SimpleNamespace(grad=None)], backend=backend) == 0.0
    ps = params(np.full(4, 3.0)) + [SimpleNamespace(grad=None)]
    assert C.clip_grad_norm_(ps, 1.0, backend=backend) == pytest.approx(6.0)
    assert C.clip_grad_norm_(np.zeros(0, np.float32), 1.0, backend=backend) == 0.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_single_object_non_contiguous_and_mixed_dtypes(backend):
    base = np.arange(24.0).reshape(4, 6)
    view = base[:, ::2]  # not contiguous: handled, written back into base
    norm = np.linalg.norm(view)
    want = view * (1.0 / (norm + 1e-6))
    total = C.clip_grad_norm_(view, 1.0, backend=backend)
    assert total == pytest.approx(norm)
    np.testing.assert_allclose(base[:, ::2], want, rtol=1e-12)
    np.testing.assert_array_equal(base[:, 1::2], np.arange(24.0).reshape(4, 6)[:, 1::2])
    a32, a64 = np.full(3, 2.0, np.float32), np.full(4, 2.0)
    assert C.clip_grad_norm_([a32, a64], 1.0, backend=backend) == pytest.approx(np.sqrt(28))
    assert a32.dtype == np.float32 and np.sqrt(np.sum(a32**2) + np.sum(a64**2)) < 1.0001
    big_endian = np.full(3, 4.0, ">f8")
    C.clip_grad_value_(big_endian, 1.0, backend=backend)
    np.testing.assert_array_equal(big_endian, [1.0, 1.0, 1.0])


def test_two_halves_equal_whole():
    a, b = sample(np.float64, 3.0), sample(np.float64, 3.0)
    total = C.get_total_norm(a, 3.0)
    C.clip_grads_with_norm_(a, 1.0, total)
    assert C.clip_grad_norm_(b, 1.0, 3.0) == total
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nonfinite_policies(backend):
    def make():
        return [np.array([1.0, np.inf, 2.0], np.float32), np.array([3.0, 4.0], np.float32)]

    a = make()
    assert C.clip_grad_norm_(a, 1.0, backend=backend) == np.inf  # propagate: PyTorch result
    np.testing.assert_array_equal(a[1], [0.0, 0.0])
    assert np.isnan(a[0][1])
    for kw in ({"error_if_nonfinite": True}, {"nonfinite": "error"}):
        a = make()
        with pytest.raises(C.NonFiniteNormError):
            C.clip_grad_norm_(a, 1.0, backend=backend, **kw)
        np.testing.assert_array_equal(a[1], make()[1])
    a, mon = make(), C.GradMonitor()
    assert C.clip_grad_norm_(a, 1.0, nonfinite="skip", backend=backend, monitor=mon) == np.inf
    np.testing.assert_array_equal(a[1], make()[1])
    assert mon.skipped.tolist() == [True]
    a = make()
    C.clip_grad_norm_(a, 1.0, nonfinite="zero", backend=backend)
    assert not any(x.any() for x in a)
    nan = [np.array([np.nan, 1.0])]
    assert np.isnan(C.clip_grad_norm_(nan, 1.0, backend=backend)) and np.isnan(nan[0]).all()


@pytest.mark.parametrize(
    "call,exc",
    [
        (lambda g: C.clip_grad_norm_(g, -1.0), ValueError),
        (lambda g: C.clip_grad_norm_(g, float("nan")), ValueError),
        (lambda g: C.clip_grad_norm_(g, "1"), TypeError),
        (lambda g: C.clip_grad_norm_(g, 1.0, norm_type=0.5), ValueError),
        (lambda g: C.clip_grad_norm_(g, 1.0, nonfinite="ignore"), ValueError),
        (lambda g: C.clip_grad_norm_(g, 1.0, 2.0, True, nonfinite="skip"), ValueError),
        (lambda g: C.clip_grad_norm_(g, 1.0, True), TypeError),  # a bool is not a norm_type
        (lambda g: C.clip_grad_norm_(g, 1.0, backend="gpu"), ValueError),
        (lambda g: C.clip_grad_value_(g, -0.1), ValueError),
        (lambda g: C.clip_grad_value_(g + [np.ones(3, np.int64)], 0.1), TypeError),
        (lambda g: C.clip_grad_value_(g + [np.ones(3, np.complex64)], 0.1), TypeError),
        (lambda g: C.clip_grad_norm_(g + ["x"], 1.0), TypeError),
        (lambda g: C.clip_grad_norm_(3.0, 1.0), TypeError),
        (lambda g: C.clip_grad_norm_per_tensor_(g, -2.0), ValueError),
        (lambda g: C.adaptive_clip_grad_(g, 0.01), TypeError),
    ],
)
def test_bad_arguments_leave_gradients_untouched(call, exc):
    g = [np.full(3, 5.0, np.float32), np.full(2, -5.0)]
    before = [a.copy() for a in g]
    with pytest.raises(exc):
        call(g)
    for a, b in zip(g, before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_read_only_gradient_is_rejected():
    ro = np.full(3, 5.0)
    ro.flags.writeable = False
    ok = np.full(3, 5.0)
    with pytest.raises(ValueError, match="read-only"):
        C.clip_grad_norm_([ok, ro], 1.0)
    np.testing.assert_array_equal(ok, 5.0)
    assert C.get_total_norm([ro]) == pytest.approx(np.sqrt(75))


def test_cuda_backend_error_is_clear(monkeypatch):
    import sys

    from tinyclipnn.clip import _backends

    monkeypatch.setitem(sys.modules, "tinyclipnn.kernels.cuda.clip", None)  # not installed
    monkeypatch.setattr(_backends, "_loaded", {})
    with pytest.raises(RuntimeError, match="CUDA support is not available"):
        C.clip_grad_norm_([np.ones(3)], 1.0, backend="cuda")


@pytest.mark.parametrize("backend", BACKENDS)
def test_per_tensor(backend):
    arrs = [np.full(4, 1.0), np.full(4, 0.1, np.float32), np.array([np.inf, 1.0])]
    norms = C.clip_grad_norm_per_tensor_(arrs[:2], 1.0, backend=backend)
    np.testing.assert_allclose(norms, [2.0, 0.2], rtol=1e-6)
    np.testing.assert_allclose(arrs[0], 0.5, rtol=1e-5)
    np.testing.assert_allclose(arrs[1], 0.1)
    with pytest.raises(C.NonFiniteNormError):
        C.clip_grad_norm_per_tensor_(arrs, 1.0, nonfinite="error", backend=backend)
    C.clip_grad_norm_per_tensor_(arrs, 0.1, nonfinite="skip", backend=backend)
    np.testing.assert_array_equal(arrs[2], [np.inf, 1.0])
    C.clip_grad_norm_per_tensor_(arrs, 0.1, nonfinite="zero", backend=backend)
    np.testing.assert_array_equal(arrs[2], [0.0, 0.0])


def test_callables_and_partial():
    for clipper in (
        functools.partial(C.clip_grad_norm_, max_norm=1.0),
        C.ClipGradNorm(1.0),
        C.ClipGradNormPerTensor(1.0),
    ):
        ps = params(np.full(4, 3.0))
        clipper(ps)
        assert np.linalg.norm(ps[0].grad) == pytest.approx(1.0, rel=1e-5)
    ps = params(np.full(4, 3.0))
    C.ClipGradValue(0.5)(ps)
    np.testing.assert_array_equal(ps[0].grad, 0.5)
    assert "max_norm=1.0" in repr(C.ClipGradNorm(1.0))


@pytest.mark.parametrize("backend", BACKENDS)
def test_deterministic_bit_identical(backend):
    rng = np.random.default_rng(5)
    arrs = [rng.standard_normal(int(n)).astype(np.float32) for n in rng.integers(1, 90000, 30)]
    results = []
    for _ in range(3):
        a = [x.copy() for x in arrs]
        results.append((C.clip_grad_norm_(a, 1.0, backend=backend), a))
    for total, a in results[1:]:
        assert total == results[0][0]
        assert all(np.array_equal(x, y) for x, y in zip(a, results[0][1], strict=True))
