"""What ``parameters`` may be: PyTorch CPU tensors and Parameters, DLPack and
``__array_interface__`` exporters (all clipped in place, zero-copy), and clear TypeErrors."""

import numpy as np
import pytest

import tinyclipnn.clip as C

BACKENDS = ["numpy", "numba"]


class DLPackOnly:
    """Exports a numpy array through DLPack only (like a JAX/CuPy-CPU style exporter)."""

    def __init__(self, a):
        self._a = a

    def __dlpack__(self, **kw):
        return self._a.__dlpack__(**kw)

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()


class ArrayInterfaceOnly:
    def __init__(self, a):
        self._a = a
        self.__array_interface__ = a.__array_interface__


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("wrap", [DLPackOnly, ArrayInterfaceOnly])
def test_exporters_are_clipped_in_place(backend, wrap):
    a = np.full((3, 4), 2.0, np.float32)
    total = C.clip_grad_norm_(wrap(a), 1.0, backend=backend)
    assert total == pytest.approx(np.sqrt(48.0))
    np.testing.assert_allclose(np.linalg.norm(a), 1.0, rtol=1e-5)  # the memory itself changed
    C.clip_grad_value_([wrap(a)], 0.1, backend=backend)
    assert a.max() <= np.float32(0.1)


def test_read_only_exporter_and_unknown_objects_raise_before_writing():
    ro = np.full(3, 5.0)
    ro.flags.writeable = False
    ok = np.full(3, 5.0)
    with pytest.raises(ValueError, match="read-only"):
        C.clip_grad_norm_([ok, ArrayInterfaceOnly(ro)], 1.0)
    np.testing.assert_array_equal(ok, 5.0)
    with pytest.raises(TypeError, match="object"):
        C.clip_grad_norm_([ok, object()], 1.0)
    with pytest.raises(TypeError, match="complex"):
        C.clip_grad_norm_([ok, np.ones(2, np.complex64)], 1.0)
    np.testing.assert_array_equal(ok, 5.0)


def _torch():
    return pytest.importorskip("torch")


def _pair(torch, dtype, seed=0):
    torch.manual_seed(seed)
    m1 = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    m1 = m1.to(dtype)
    m2 = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    m2 = m2.to(dtype)
    m2.load_state_dict(m1.state_dict())
    x = torch.randn(4, 6).to(dtype) * 3
    for m in (m1, m2):
        (m(x) ** 2).sum().backward()
    return m1, m2


def _ulps(torch, dtype):
    return {torch.float32: 2e-7, torch.float64: 1e-15, torch.float16: 1e-3,
            torch.bfloat16: 8e-3}[dtype]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["float32", "float64", "float16", "bfloat16"])
@pytest.mark.parametrize("p", [2.0, float("inf")])
def test_torch_cpu_parameters_match_torch(backend, name, p):
    torch = _torch()
    dtype = getattr(torch, name)
    m1, m2 = _pair(torch, dtype)
    ours = C.clip_grad_norm_(m1.parameters(), 0.5, p, backend=backend)
    theirs = torch.nn.utils.clip_grad_norm_(m2.parameters(), 0.5, p)
    tol = _ulps(torch, dtype)
    assert ours == pytest.approx(float(theirs), rel=max(tol, 1e-6))
    for a, b in zip(m1.parameters(), m2.parameters(), strict=True):
        assert a.grad.dtype == dtype
        torch.testing.assert_close(a.grad, b.grad, rtol=2 * tol, atol=0)
    C.clip_grad_value_(m1.parameters(), 0.01, backend=backend)
    torch.nn.utils.clip_grad_value_(m2.parameters(), 0.01)
    for a, b in zip(m1.parameters(), m2.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=2 * tol, atol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_plain_torch_tensor_is_clipped_in_place_not_ignored(backend):
    """Bug: a CPU tensor used to give 0.0 and stay unchanged (silent no-op)."""
    torch = _torch()
    t = torch.full((3,), 4.0)
    assert C.clip_grad_norm_(t, 1.0, backend=backend) == pytest.approx(np.sqrt(48.0))
    assert float(t.norm()) == pytest.approx(1.0, rel=1e-5)
    v = torch.full((4, 6), 4.0, dtype=torch.float64).t()  # non-contiguous: copied and back
    C.clip_grad_norm_([v], 1.0, backend=backend)
    assert float(v.norm()) == pytest.approx(1.0, rel=1e-6)
    w = torch.nn.Parameter(torch.ones(3))  # a parameter without .grad: nothing to clip
    assert C.clip_grad_norm_(w, 1.0, backend=backend) == 0.0


def test_torch_tensor_on_unsupported_device_raises():
    torch = _torch()
    t = torch.ones(3, device="meta")
    with pytest.raises(TypeError, match="meta"):
        C.clip_grad_norm_(t, 1.0)
