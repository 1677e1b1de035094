"""CUDA kernels under numba's simulator, against the numpy reference.

Not collected directly (the file name lacks ``test_``): ``tests/test_cuda_sim.py`` runs it with
pytest in a subprocess whose environment has ``NUMBA_ENABLE_CUDASIM=1``, because the variable
must be set before numba.cuda is first imported. Sizes are tiny (the simulator runs a Python
thread per CUDA thread); the geometry is shrunk to 4 threads x 4 items so that arrays of a few
dozen elements exercise the multi-block reduction and rescue paths.
"""

import os

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":  # pragma: no cover - guard for direct runs
    raise RuntimeError("run through tests/test_cuda_sim.py (needs NUMBA_ENABLE_CUDASIM=1)")

import numpy as np
import pytest
from cuda_sim_support import setup_simulator
from numba import cuda

from tinyclipnn.kernels import reference as R
from tinyclipnn.kernels.clip_decision import NonFinite
from tinyclipnn.kernels.cuda import _config, _segments
from tinyclipnn.kernels.cuda import clip as C

NORMS = [1.0, 2.0, 3.0, np.inf]
setup_simulator()
DTYPES = [np.float32, np.float64]
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # simulator float warnings


@pytest.fixture(autouse=True)
def _small_blocks():
    old = _config.configure(block=4, items=4)  # chunk of 16 elements
    with np.errstate(all="ignore"):
        yield
    _config.configure(*old)


def _arrays(dtype, kind="plain"):
    rng = np.random.default_rng(7)
    big = 1e30 if dtype == np.float32 else 1e300
    out = [
        rng.standard_normal((3, 5)).astype(dtype),  # 15: two blocks
        np.asfortranarray(rng.standard_normal((4, 5)).astype(dtype)),
        np.zeros(0, dtype),
        np.array(2.5, dtype),  # 0-d
        rng.standard_normal(37).astype(dtype),  # three blocks, last partial
    ]
    if kind == "special":
        out += [
            np.array([big, -big, big, 1.0] * 5, dtype),  # float64: overflow -> rescue, 2 blocks
            np.array([1e-300, -2e-300, 0.0], dtype) if dtype == np.float64 else np.zeros(3, dtype),
            np.array([1.0, np.nan, np.inf, 2.0], dtype),
            np.array([1.0, -np.inf, 3.0], dtype),
            np.zeros(9, dtype),
        ]
    return out


def _assert_norms(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, equal_nan=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", NORMS)
def test_seg_norms_host_arrays(dtype, p):
    arrs = _arrays(dtype, "special")
    _assert_norms(C.seg_norms(arrs, p), R.seg_norms(arrs, p))


def test_seg_norms_general_p_and_empty_list():
    arrs = _arrays(np.float64, "special")
    _assert_norms(C.seg_norms(arrs, 1.5), R.seg_norms(arrs, 1.5))
    assert C.seg_norms([], 2.0).shape == (0,)
    assert C.seg_norms([np.zeros(0, np.float32)], 2.0).tolist() == [0.0]
    assert C.seg_norms([np.array([-3.0])], 2.0).tolist() == [3.0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_device_views_form_one_run(dtype):
    sizes = [5, 0, 17, 1, 9]
    rng = np.random.default_rng(1)
    host = rng.standard_normal(sum(sizes)).astype(dtype)
    host[20] = np.nan if dtype == np.float64 else host[20]
    flat = cuda.to_device(host)
    offs = np.concatenate([[0], np.cumsum(sizes)])
    views = [flat[lo:hi] for lo, hi in zip(offs[:-1], offs[1:], strict=True)]
    from tinyclipnn.kernels.cuda._arrays import runs

    assert len(runs(views)) == 1  # back to back in memory: one launch for all tensors
    want = R.seg_norms([host[lo:hi] for lo, hi in zip(offs[:-1], offs[1:], strict=True)], 2.0)
    _assert_norms(C.seg_norms(views, 2.0), want)
    _assert_norms(C.seg_norms_device(views, 2.0).copy_to_host(), want)


def test_work_table_layout():
    seg, start, stop, first = _segments.build(np.array([3, 0, 10]), 4)
    assert seg.tolist() == [0, 2, 2, 2]
    assert start.tolist() == [0, 3, 7, 11]
    assert stop.tolist() == [3, 7, 11, 13]
    assert first.tolist() == [0, 1, 1, 4]


@pytest.mark.parametrize("dtype", DTYPES)
def test_seg_scale(dtype):
    arrs = _arrays(dtype, "special")
    coefs = np.linspace(0.1, 1.5, len(arrs))
    coefs[0] = 1.0
    coefs[3] = np.nan
    a1 = [a.copy(order="A") for a in arrs]
    a2 = [a.copy(order="A") for a in arrs]
    C.seg_scale_(a1, coefs)
    R.seg_scale_(a2, coefs)
    for x, y in zip(a1, a2, strict=True):
        np.testing.assert_array_equal(x, y)
        assert x.flags.f_contiguous == y.flags.f_contiguous


@pytest.mark.parametrize("dtype", DTYPES)
def test_seg_clamp_and_fill(dtype):
    arrs = _arrays(dtype, "special")
    a1 = [a.copy(order="A") for a in arrs]
    a2 = [a.copy(order="A") for a in arrs]
    assert C.seg_clamp_(a1, 0.7) == R.seg_clamp_(a2, 0.7)
    for x, y in zip(a1, a2, strict=True):
        np.testing.assert_array_equal(x, y)
    C.seg_fill_(a1, 0.25)
    assert all((a == dtype(0.25)).all() for a in a1)
    assert C.seg_clamp_([], 1.0) == 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 11), (1, 1), (5, 1), (0, 4), (2, 0)])
def test_rows(dtype, shape):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(dtype)
    if x.size > 3:
        x.flat[2] = np.inf
    for p in (2.0, np.inf):
        _assert_norms(C.row_norms(x, p), R.row_norms(x, p))
    coefs = np.linspace(0.5, 1.0, shape[0])
    x1, x2 = x.copy(), x.copy()
    C.row_scale_(x1, coefs)
    R.row_scale_(x2, coefs)
    np.testing.assert_array_equal(x1, x2)
    s = C.col_sum(x)
    assert isinstance(s, np.ndarray) and s.dtype == x.dtype
    np.testing.assert_array_equal(s, R.col_sum(x))


def test_col_sum_device_in_device_out():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    s = C.col_sum(cuda.to_device(x))
    assert not isinstance(s, np.ndarray)
    np.testing.assert_array_equal(s.copy_to_host(), R.col_sum(x))


def _reference_clip(arrs, max_norm, p, policy):
    norms = R.seg_norms(arrs, p)
    from tinyclipnn.clip._pipeline import combine_norms

    total = float(norms[0]) if norms.size == 1 else combine_norms(norms, p)
    coef = max_norm / (total + 1e-6)
    out = [a.copy(order="A") for a in arrs]
    if not np.isfinite(total) and policy == "skip":
        return total, 1.0, out
    if not np.isfinite(total) and policy == "zero":
        return total, 0.0, [np.zeros_like(a) for a in out]
    if coef < 1.0 or coef != coef:
        R.seg_scale_(out, np.full(len(out), coef))
        return total, coef, out
    return total, 1.0, out


CLIP_CASES = [
    (np.float32, 2.0, "plain", "propagate"),
    (np.float64, np.inf, "plain", "propagate"),
    (np.float64, 1.0, "plain", "skip"),
    (np.float32, 2.0, "special", "propagate"),
    (np.float64, 2.0, "special", "skip"),
    (np.float32, 2.0, "special", "zero"),
    (np.float64, np.inf, "special", "zero"),
]


@pytest.mark.parametrize(("dtype", "p", "kind", "policy"), CLIP_CASES)
def test_device_clip_path(dtype, p, kind, policy):
    arrs = _arrays(dtype, kind)
    if kind == "plain":
        arrs = [np.multiply(a, 3, out=a.copy(order="A")) for a in arrs]  # norm > 1: clips
    devs = [cuda.to_device(a) for a in arrs]
    total, coef = C.clip_norm_(devs, 1.0, p, policy=NonFinite[policy.upper()])
    want_total, want_coef, want = _reference_clip(arrs, 1.0, p, policy)
    _assert_norms(total.item(), want_total)
    _assert_norms(float(coef), want_coef)
    if want_coef not in (0.0, 1.0) and want_coef == want_coef:  # same coefficient, same bits
        want = [a.copy(order="A") for a in arrs]
        R.seg_scale_(want, np.full(len(want), float(coef)))
    for d, w in zip(devs, want, strict=True):
        np.testing.assert_array_equal(d.copy_to_host(), w.reshape(d.shape, order="A"))


def test_clip_with_given_norm_and_single_tensor():
    x = np.arange(-10, 11, dtype=np.float32)
    d = cuda.to_device(x)
    t = C.total_norm([d])
    assert float(t) == R.seg_norms([x], 2.0)[0]
    coef = C.clip_with_norm_([d], 2.0, t)
    expected = np.multiply(x, float(coef), dtype=np.float64).astype(x.dtype)  # float64 product
    np.testing.assert_array_equal(d.copy_to_host(), expected)
    c2 = C.clip_with_norm_([d], 100.0, 5.0)  # float norm, no clipping: untouched, coef 1
    assert float(c2) == 1.0
    assert float(C.total_norm([])) == 0.0


def test_determinism_bitwise():
    rng = np.random.default_rng(11)
    arrs = [rng.standard_normal(n).astype(np.float32) * 1e3 for n in (37, 1, 20)]
    devs = [cuda.to_device(a) for a in arrs]
    r1 = C.seg_norms_device(devs, 2.0).copy_to_host()
    r2 = C.seg_norms_device(devs, 2.0).copy_to_host()
    assert r1.tobytes() == r2.tobytes()
    assert C.total_norm(devs).item() == C.total_norm(devs).item()


class _CAI:
    """A foreign array exposing only ``__cuda_array_interface__`` (under the simulator the
    pointer is a host address, as with a CuPy array on a real device)."""

    def __init__(self, a):
        self.a = a
        self.__cuda_array_interface__ = {
            "shape": a.shape,
            "strides": None,
            "typestr": a.dtype.str,
            "data": (a.ctypes.data, False),
            "version": 3,
        }


def test_cuda_array_interface_in_place_no_copy():
    a = np.linspace(-4, 4, 30).astype(np.float32).reshape(5, 6)
    want = a.copy()
    R.seg_scale_([want], np.array([0.5]))
    C.seg_scale_([_CAI(a)], np.array([0.5]))
    np.testing.assert_array_equal(a, want)  # the owner's memory changed: no copy was made
    _assert_norms(C.seg_norms([_CAI(a)], 2.0), R.seg_norms([a], 2.0))


def test_configure_validates():
    with pytest.raises(ValueError, match="power of two"):
        _config.configure(block=3)
    with pytest.raises(ValueError, match="items"):
        _config.configure(items=0)
