"""CUDA backend on a real GPU (skipped without one, and under the simulator, whose cases live
in ``cuda_sim_cases.py``): realistic sizes, the default launch geometry, determinism, and
in-place interop with CuPy arrays and PyTorch CUDA tensors when those are importable."""

import numpy as np
import pytest

from tinyclipnn.kernels.cuda import _runtime

if _runtime.simulator_enabled() or _runtime.unavailable_reason() is not None:
    pytest.skip(
        f"no CUDA GPU: {_runtime.unavailable_reason() or 'simulator enabled'}",
        allow_module_level=True,
    )

from numba import cuda  # noqa: E402

import tinyclipnn.clip as C  # noqa: E402
from tinyclipnn.kernels import reference as R  # noqa: E402
from tinyclipnn.kernels.cuda import clip as K  # noqa: E402


def _mixed(n=300, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(int(s)).astype(dtype) for s in rng.integers(1, 70_000, n)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, np.inf])
def test_norms_match_reference_at_size(dtype, p):
    arrs = _mixed(50, dtype=dtype) + [np.zeros(0, dtype), np.ones(1, dtype)]
    arrs[3][100] = np.nan
    arrs[4][7] = np.inf
    big = np.full(5_000_000, 1e300 if dtype == np.float64 else 1e30, dtype)  # rescue path
    arrs.append(big)
    np.testing.assert_allclose(K.seg_norms(arrs, p), R.seg_norms(arrs, p), rtol=1e-10,
                               equal_nan=True)


def test_device_gradbuffer_one_run_and_determinism():
    arrs = _mixed()
    ps = [type("P", (), {"data": a, "grad": a.copy()})() for a in arrs]
    buf = C.GradBuffer(ps, device="cuda")
    n1 = K.seg_norms(buf.views, 2.0)
    n2 = K.seg_norms(buf.views, 2.0)
    assert n1.tobytes() == n2.tobytes()
    np.testing.assert_allclose(n1, R.seg_norms(arrs, 2.0), rtol=1e-10)
    t1 = C.get_total_norm(buf).item()
    assert t1 == C.get_total_norm(buf).item()
    total = C.clip_grad_norm_(buf, 1.0)
    assert isinstance(total, C.DeviceScalar) and float(total) == t1
    np.testing.assert_allclose(float(C.get_total_norm(buf)), 1.0, rtol=1e-5)


def test_value_clamp_and_rows():
    x = np.random.default_rng(1).standard_normal((513, 1000)).astype(np.float32)
    d = cuda.to_device(x)
    want = x.copy()
    assert K.seg_clamp_([d], 0.5) == R.seg_clamp_([want], 0.5)
    np.testing.assert_array_equal(d.copy_to_host(), want)
    np.testing.assert_allclose(K.row_norms(d), R.row_norms(want), rtol=1e-10)
    np.testing.assert_allclose(K.col_sum(d).copy_to_host(), R.col_sum(want), rtol=1e-6)


def test_cupy_in_place():
    cp = pytest.importorskip("cupy")
    g = cp.asarray(np.arange(-50, 50, dtype=np.float32))
    ptr = g.data.ptr
    want = float(np.linalg.norm(np.arange(-50, 50)))
    total = C.clip_grad_norm_([g], 1.0)  # auto -> cuda for device arrays
    assert g.data.ptr == ptr
    np.testing.assert_allclose(float(total), want, rtol=1e-6)
    np.testing.assert_allclose(float(cp.linalg.norm(g)), 1.0, rtol=1e-5)


def test_torch_cuda_in_place_and_parity():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    torch.manual_seed(0)
    ps = [torch.nn.Parameter(torch.zeros(s, device="cuda")) for s in [(64, 32), (32,), (7, 3, 3)]]
    qs = [torch.nn.Parameter(torch.zeros_like(p)) for p in ps]
    for p, q in zip(ps, qs, strict=True):
        p.grad = torch.randn_like(p) * 3
        q.grad = p.grad.clone()
    want = torch.nn.utils.clip_grad_norm_(qs, 1.0, foreach=True).item()
    total = C.clip_grad_norm_(ps, 1.0)  # torch Parameters with CUDA .grad: clipped in place
    np.testing.assert_allclose(float(total), want, rtol=1e-6)
    for p, q in zip(ps, qs, strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-6, atol=1e-7)
    buf = C.GradBuffer(ps, device="cuda")  # torch dtypes accepted; grads copied into the buffer
    np.testing.assert_allclose(float(C.get_total_norm(buf)), min(want, 1.0), rtol=1e-5)


def test_float16_agc_and_per_sample_on_the_gpu():
    from types import SimpleNamespace

    x = np.random.default_rng(2).standard_normal((300, 700)).astype(np.float16)
    d = cuda.to_device(x)
    want = x.copy()
    total = C.clip_grad_norm_([d], 1.0)
    np.testing.assert_allclose(float(total), C.clip_grad_norm_([want], 1.0, backend="numpy"),
                               rtol=1e-10)
    np.testing.assert_allclose(d.copy_to_host().astype(np.float64), want, rtol=1e-3, atol=1e-7)
    w = np.full((300, 700), 0.5, np.float32)
    g = np.random.default_rng(3).standard_normal((300, 700)).astype(np.float32)
    dev = [SimpleNamespace(data=cuda.to_device(w), grad=cuda.to_device(g))]
    host = [SimpleNamespace(data=w, grad=g.copy())]
    C.adaptive_clip_grad_(dev, 0.01)
    C.adaptive_clip_grad_(host, 0.01, backend="numpy")
    np.testing.assert_allclose(dev[0].grad.copy_to_host(), host[0].grad, rtol=1e-6)
    res = C.clip_per_sample_([cuda.to_device(g)], 1.0)
    ref = C.clip_per_sample_([g.copy()], 1.0, backend="numpy")
    np.testing.assert_allclose(res.norms, ref.norms, rtol=1e-10)
    np.testing.assert_allclose(res.grads[0].copy_to_host(), ref.grads[0], rtol=1e-5, atol=1e-6)
