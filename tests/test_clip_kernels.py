"""Numba clipping primitives against the numpy reference (tinyclipnn.kernels.reference)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinyclipnn.kernels import reference as R

K = pytest.importorskip("tinyclipnn.kernels.cpu.clip")
NORMS = [1.0, 2.0, 3.0, 1.5, np.inf]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _elements(dtype, nonfinite):
    big = 1e30 if dtype == np.float32 else 1e300
    width = 32 if dtype == np.float32 else 64
    regular = st.floats(-1e3, 1e3, width=width)
    tiny = 1e-30 if width == 32 else 1e-300
    # exactly representable in the dtype (hypothesis with numpy 1.x rejects inexact ones)
    special = st.sampled_from([float(dtype(v)) for v in (0.0, big, -big, tiny)])
    opts = [regular, special]
    if nonfinite:
        opts.append(st.sampled_from([np.nan, np.inf, -np.inf]))
    return st.one_of(*opts)


@st.composite
def array_lists(draw, nonfinite=True):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n = draw(st.integers(0, 4))
    out = []
    for _ in range(n):
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=7))
        a = draw(hnp.arrays(dtype, shape, elements=_elements(dtype, nonfinite)))
        if a.ndim >= 2 and draw(st.booleans()):
            a = np.asfortranarray(a)
        out.append(a)
    return out


def _given(arrays, planned):
    """The kernels' input: the list, or its plan (segment table) made once beforehand."""
    return K.plan(arrays) if planned else arrays


PLANNED = pytest.mark.parametrize("planned", [False, True], ids=["list", "plan"])


def _assert_norms(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=0, equal_nan=True)


@PLANNED
@SETTINGS
@given(array_lists(), st.sampled_from(NORMS))
def test_seg_norms_matches_reference(planned, arrays, p):
    _assert_norms(K.seg_norms(_given(arrays, planned), p), R.seg_norms(arrays, p))


@PLANNED
@SETTINGS
@given(array_lists(), st.floats(0.0, 2.0))
def test_seg_scale_matches_reference(planned, arrays, c):
    coefs = np.full(len(arrays), c)
    if len(arrays) > 1:
        coefs[0] = 1.0
    a1 = [a.copy(order="A") for a in arrays]
    a2 = [a.copy(order="A") for a in arrays]
    K.seg_scale_(_given(a1, planned), coefs)
    R.seg_scale_(a2, coefs)
    for x, y in zip(a1, a2, strict=True):
        np.testing.assert_array_equal(x, y)


@PLANNED
@SETTINGS
@given(array_lists(), st.floats(0.0, 1e3))
def test_seg_clamp_matches_reference(planned, arrays, c):
    a1 = [a.copy(order="A") for a in arrays]
    a2 = [a.copy(order="A") for a in arrays]
    assert K.seg_clamp_(_given(a1, planned), c) == R.seg_clamp_(a2, c)
    for x, y in zip(a1, a2, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clamp_counts_whole_chunks(dtype):
    """Every value of several full chunks clamped (the count is kept per chunk in float32
    lanes: exact up to 2**24), plus NaN (kept, not counted) and values exactly at the bound."""
    x = np.random.default_rng(5).standard_normal(3 * 32768 + 11).astype(dtype) * 10
    x[np.abs(x) <= 1.0] = 5.0
    x[:3] = [np.nan, 1.0, -1.0]
    a, b = x.copy(), x.copy()
    got = K.seg_clamp_([a], 1.0)
    assert got == R.seg_clamp_([b], 1.0) == x.size - 3
    np.testing.assert_array_equal(a, b)


@SETTINGS
@given(
    st.sampled_from([np.float32, np.float64]),
    st.integers(0, 9),
    st.integers(0, 40),
    st.data(),
)
def test_row_primitives_match_reference(dtype, rows, cols, data):
    x = data.draw(hnp.arrays(dtype, (rows, cols), elements=_elements(dtype, False)))
    _assert_norms(K.row_norms(x), R.row_norms(x))
    _assert_norms(K.row_norms(x, 1.0), R.row_norms(x, 1.0))
    coefs = data.draw(hnp.arrays(np.float64, (rows,), elements=st.floats(0, 1)))
    x1, x2 = x.copy(), x.copy()
    K.row_scale_(x1, coefs)
    R.row_scale_(x2, coefs)
    np.testing.assert_array_equal(x1, x2)
    small = np.clip(x, -10, 10)
    np.testing.assert_allclose(K.col_sum(small), R.col_sum(small), rtol=1e-6, atol=1e-9)
    assert K.col_sum(small).dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", NORMS)
def test_many_chunks_and_segments(dtype, p):
    """Sizes that cross the chunk boundary; many segments; bit-identical across calls."""
    rng = np.random.default_rng(0)
    sizes = [0, 1, 32767, 32768, 32769, 100_003] + list(rng.integers(1, 5000, 200))
    arrays = [rng.standard_normal(int(s)).astype(dtype) for s in sizes]
    got = K.seg_norms(arrays, p)
    _assert_norms(got, R.seg_norms(arrays, p))
    np.testing.assert_array_equal(got, K.seg_norms(arrays, p))
    flat = np.concatenate(arrays)
    _assert_norms(K.seg_norms([flat], p), R.seg_norms([flat], p))


def test_fill():
    a = [np.ones(5), np.ones((3, 70000))]
    K.seg_fill_(a, 0.0)
    assert not any(x.any() for x in a)
    with pytest.raises(TypeError):
        K.seg_fill_([np.ones(5), np.ones(5, np.float32)], 0.0)


@pytest.mark.parametrize(
    "dtype,value,n", [(np.float32, 1e30, 1000), (np.float64, 1e300, 1000), (np.float64, 1e-300, 7)]
)
def test_scaled_norm_is_finite_and_correct(dtype, value, n):
    x = np.full(n, value, dtype)
    value = float(x[0])
    for mod in (K, R):
        np.testing.assert_allclose(mod.seg_norms([x], 2.0), [value * np.sqrt(n)], rtol=1e-12)
        np.testing.assert_allclose(mod.seg_norms([x], 3.0), [value * n ** (1 / 3)], rtol=1e-12)
        np.testing.assert_allclose(mod.row_norms(x.reshape(1, -1)), [value * np.sqrt(n)], rtol=1e-12)


def test_nonfinite_norms():
    x = np.array([1.0, np.inf, 2.0])
    y = np.array([np.nan, np.inf, 1.0])
    for mod in (K, R):
        for p in NORMS:
            n = mod.seg_norms([x, y], p)
            assert n[0] == np.inf and np.isnan(n[1])


def _layout(a, kind):
    """A fresh copy of ``a`` as a C, Fortran or non-contiguous (strided) array."""
    if kind == "strided" and a.ndim >= 1:
        return np.repeat(a, 2, axis=0)[::2]
    if kind == "fortran":
        return np.array(a, order="F", copy=True)
    return a.copy()


@SETTINGS
@given(array_lists(), st.data(), st.sampled_from(NORMS), st.floats(0.0, 10.0))
def test_clip_api_numba_equals_numpy(arrays, data, p, max_norm):
    import tinyclipnn.clip as C

    kinds = [data.draw(st.sampled_from(["c", "fortran", "strided"])) for _ in arrays]
    a1 = [_layout(a, k) for a, k in zip(arrays, kinds, strict=True)]
    a2 = [_layout(a, k) for a, k in zip(arrays, kinds, strict=True)]
    n1 = C.clip_grad_norm_(a1, max_norm, p, backend="numba")
    n2 = C.clip_grad_norm_(a2, max_norm, p, backend="numpy")
    np.testing.assert_allclose(n1, n2, rtol=1e-10, equal_nan=True)
    for x, y in zip(a1, a2, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-6, equal_nan=True)
    C.clip_grad_value_(a1, max_norm, backend="numba")
    C.clip_grad_value_(a2, max_norm, backend="numpy")
    for x, y in zip(a1, a2, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-6, equal_nan=True)
