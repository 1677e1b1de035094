"""float16 and bfloat16 gradients: kernels against the numpy reference, the reference's
rounding against an exact round-to-nearest-even oracle, and every clip function."""

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinyclipnn.clip as C
from tinyclipnn.kernels import halfbits_numpy as H
from tinyclipnn.kernels import reference as R

K = pytest.importorskip("tinyclipnn.kernels.cpu.clip")
ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BACKENDS = ["numpy", "numba"]


def _table(kind):
    """All finite values of a 16-bit float type, sorted, with their bit patterns."""
    bits = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    with np.errstate(invalid="ignore"):  # the NaN patterns
        vals = (bits.view(np.float16).astype(np.float64) if kind == "f16"
                else H.bf16_to_f32(bits).astype(np.float64))
    ok = np.isfinite(vals) & ~((vals == 0) & (np.signbit(vals)))
    order = np.argsort(vals[ok], kind="stable")
    return vals[ok][order], bits[ok][order]


def _oracle(x, kind):
    """Exact round-to-nearest-even of float64 ``x`` (finite) to the 16-bit type: the nearest
    of the two neighbours in the value table, ties to the even bit pattern, inf past max."""
    vals, bits = _table(kind)
    top = vals[-1]
    half_ulp_top = (top - vals[-2]) / 2
    out = np.empty(x.size, np.float64)
    for i, v in enumerate(x):
        if abs(v) >= top + half_ulp_top:
            out[i] = np.copysign(np.inf, v)
            continue
        j = np.clip(np.searchsorted(vals, v), 1, vals.size - 1)
        lo, hi = vals[j - 1], vals[j]
        if v - lo < hi - v:
            out[i] = lo
        elif hi - v < v - lo:
            out[i] = hi
        else:
            out[i] = lo if bits[j - 1] % 2 == 0 else hi
    return out


def _values(kind):
    top = 65504.0 if kind == "f16" else 3.389e38
    tiny = 6e-8 if kind == "f16" else 9.2e-41
    return st.one_of(st.floats(-top * 1.01, top * 1.01), st.floats(-tiny * 40, tiny * 40),
                     st.floats(-2.0, 2.0))


@SETTINGS
@given(st.data())
@pytest.mark.parametrize("kind", ["f16", "bf16"])
def test_reference_rounding_is_exact_rne(kind, data):
    x = np.array(data.draw(st.lists(_values(kind), min_size=1, max_size=30)), np.float64)
    x = np.concatenate([x, [65520.0, 65519.99, 2.0**-25, 3 * 2.0**-26]])
    got = H.from_f64(x, np.float16 if kind == "f16" else H.BF16_BITS)
    got = H.to_f64(got)
    np.testing.assert_array_equal(got, _oracle(x, kind))


def _lowp_arrays(draw, dtype):
    n = draw(st.integers(0, 3))
    out = []
    for _ in range(n):
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=9))
        x = draw(hnp.arrays(np.float64, shape, elements=st.one_of(
            st.floats(-1e3, 1e3), st.sampled_from([0.0, 6e4, -6e4, 1e-7, np.inf, np.nan]))))
        out.append(H.from_f64(x, dtype))
    return out


@SETTINGS
@given(st.data(), st.sampled_from([np.dtype(np.float16), H.BF16_BITS]),
       st.sampled_from([1.0, 2.0, 3.0, np.inf]), st.floats(0.0, 3.0))
def test_numba_lowp_kernels_match_reference(data, dtype, p, c):
    arrs = _lowp_arrays(data.draw, dtype)
    np.testing.assert_allclose(K.seg_norms(arrs, p), R.seg_norms(arrs, p), rtol=1e-12,
                               equal_nan=True)
    a1, a2 = [a.copy() for a in arrs], [a.copy() for a in arrs]
    K.seg_scale_(a1, np.full(len(arrs), c))
    R.seg_scale_(a2, np.full(len(arrs), c))
    assert all(np.array_equal(x.view(np.uint16), y.view(np.uint16)) for x, y in zip(a1, a2, strict=True))
    assert K.seg_clamp_(a1, c) == R.seg_clamp_(a2, c)
    assert all(np.array_equal(x.view(np.uint16), y.view(np.uint16)) for x, y in zip(a1, a2, strict=True))


def test_numba_lowp_large_threaded_and_col_sum():
    rng = np.random.default_rng(0)
    for dtype in (np.dtype(np.float16), H.BF16_BITS):
        x = H.from_f64(rng.standard_normal(700_001) * 30, dtype)
        assert K.seg_norms([x], 2.0)[0] == pytest.approx(R.seg_norms([x], 2.0)[0], rel=1e-12)
        y1, y2 = x.copy(), x.copy()
        K.seg_scale_([y1], np.array([0.37]))
        R.seg_scale_([y2], np.array([0.37]))
        assert np.array_equal(y1, y2)
        m = x[:700_000].reshape(700, 1000)
        assert np.array_equal(K.col_sum(m), R.col_sum(m))


def test_bf16_norm_of_views_at_odd_offsets():
    """The bfloat16 sum of squares reads value pairs as uint32 words: views starting at an odd
    value (unaligned words), odd sizes, several chunks and a single value."""
    x = H.from_f64(np.random.default_rng(3).standard_normal(100_003) * 30, H.BF16_BITS)
    for v in (x, x[1:], x[3:-2], x[1:2], x[1:4], x[:0]):
        want = R.seg_norms([v], 2.0)[0]
        assert K.seg_norms([v], 2.0)[0] == pytest.approx(want, rel=1e-12, abs=0.0)


def _grads(dtype, seed=0, scale=3.0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(s) * scale).astype(dtype) for s in [(4, 5), (7,), (3, 2, 2)]]


def _close(got, want, dtype):
    tol = 1e-3 if np.dtype(dtype) == np.float16 else 8e-3
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=tol, atol=tol * 1e-2)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float16, BF16])
def test_every_clip_function_on_lowp(backend, dtype):
    g = _grads(dtype)
    ref = [a.astype(np.float64) for a in g]
    total = C.clip_grad_norm_(g, 1.0, backend=backend)
    want = np.sqrt(sum((r**2).sum() for r in ref))
    assert total == pytest.approx(want, rel=1e-12)  # norms from the stored values, in float64
    for a, r in zip(g, ref, strict=True):
        assert a.dtype == dtype
        _close(a, r / (want + 1e-6), dtype)
    g = _grads(dtype)
    C.clip_grad_value_(g, 0.5, backend=backend)
    c = float(H.cast_scalar(0.5, np.float16 if dtype == np.float16 else H.BF16_BITS))
    for a, r in zip(g, ref, strict=True):
        np.testing.assert_array_equal(a.astype(np.float64), np.clip(r, -c, c))
    g = _grads(dtype)
    norms = C.clip_grad_norm_per_tensor_(g, 1.0, backend=backend)
    np.testing.assert_allclose(norms, [np.linalg.norm(r) for r in ref], rtol=1e-12)
    ps = [SimpleNamespace(data=np.ones_like(a), grad=a) for a in _grads(dtype)]
    C.adaptive_clip_grad_(ps, 0.05, backend=backend)
    for p, r in zip(ps, ref, strict=True):
        rows = r.reshape(r.shape[0] if r.ndim > 1 else 1, -1)
        w = np.sqrt(rows.shape[1])
        gn = np.linalg.norm(rows, axis=1, keepdims=True)
        _close(p.grad.reshape(rows.shape), np.where(gn > 0.05 * w, rows * 0.05 * w / gn, rows),
               dtype)
    res = C.clip_per_sample_([a[:2] for a in _grads(dtype)], 1.0, backend=backend)
    assert all(s.dtype == dtype for s in res.grads)
    scaler = C.LossScaler(init_scale=4.0, backend=backend)
    g = _grads(dtype)
    assert scaler.unscale_and_clip_(g, 1e9) == pytest.approx(want / 4.0, rel=1e-12)
    for a, r in zip(g, ref, strict=True):
        _close(a, r / 4.0, dtype)


def test_lowp_norm_is_overflow_safe_and_nonfinite_policies_hold():
    big = np.full(10, 6e4, np.float16)  # squares sum past float16, not float64
    assert C.get_total_norm(big) == pytest.approx(6e4 * np.sqrt(10))
    g = [np.ones(3, np.float16), np.array([np.inf, 1.0], np.float16)]
    before = [a.copy() for a in g]
    assert C.clip_grad_norm_(g, 1.0, nonfinite="skip") == np.inf
    assert all(np.array_equal(a, b) for a, b in zip(g, before, strict=True))
    C.clip_grad_norm_(g, 1.0, nonfinite="zero")
    assert all((a == 0).all() for a in g)


@pytest.mark.parametrize("backend", BACKENDS)
def test_scaling_rounds_once_even_at_float32_midpoints(backend):
    """x * c lands within float32 rounding of a float16 / bfloat16 midpoint: rounding through
    float32 first would tie to even; rounding once must go to v's side."""
    for dtype, ulp, kind in ((np.float16, 2.0**-10, "f16"), (BF16, 2.0**-7, "bf16")):
        for c in (1 + ulp / 2 + 2.0**-40, 1 + ulp / 2 - 2.0**-40, 1 + 1.5 * ulp + 2.0**-40,
                  1 + 1.5 * ulp - 2.0**-40, 1 + ulp / 2):
            x = np.array([1.0, -1.0, 2.0**-20, 3.0], dtype)
            want = _oracle(x.astype(np.float64) * c, kind)
            g = x.copy()
            C.get_backend(backend).seg_scale_([g.view(np.uint16) if kind == "bf16" else g],
                                              np.array([c]))
            np.testing.assert_array_equal(g.astype(np.float64), want)
