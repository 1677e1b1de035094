"""float16 / bfloat16 scaling kernels (float32 fast paths with an exact redo) against the
numpy reference: every 16-bit pattern for many coefficients, each kernel path on its own,
plus hypothesis arrays (empty, size 1, Fortran order, strided views, large, non-finite)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinyclipnn.clip as C
from tinyclipnn.kernels import halfbits_numpy as H
from tinyclipnn.kernels import reference as R
from tinyclipnn.kernels.config import HALF_SCALE_BLOCK

K = pytest.importorskip("tinyclipnn.kernels.cpu.clip")
from tinyclipnn.kernels.cpu import _f16c_items as F  # noqa: E402
from tinyclipnn.kernels.cpu import _lowp_items as L  # noqa: E402

ALL = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)  # every 16-bit pattern
_RNG = np.random.default_rng(7)
COEFS = [0.0, -0.0, 1.0, 0.37, 0.7, 1.3, 3.0, 1 / 3, np.pi, 0.999999, 1 / 5700, 1e5, 1e40,
         1e300, 1e-25, 1e-300, 3e29, np.inf, 2.0**-20, 2.0**-30, 2.0**-60, 2.0**-99, 2.0**-100,
         2.0**-101, 2.0**-130, 2.0**99, 2.0**100, 2.0**101, 1.5 * 2.0**-24, -0.37, -1e-3,
         *(1 + s * 2.0**-e + t * 2.0**-40 for e in (8, 9, 11, 12) for s in (1, 3)
           for t in (-1, 0, 1)),
         *_RNG.uniform(0, 2, 20), *(2.0 ** _RNG.uniform(-40, 40, 20))]


def _same(got, want, bf16, what=""):
    """Bit-equal, except that any NaN matches any NaN (payloads are the hardware's)."""
    def isnan(b):
        return np.isnan(H.bf16_to_f32(b) if bf16 else b.view(np.float16))

    ok = (got == want) | (isnan(got) & isnan(want))
    assert ok.all(), (what, got[~ok][:5], want[~ok][:5])


def _paths(bf16):
    """(name, in-place scale(bits, c)) of every kernel path for the type."""
    tmp = np.empty(HALF_SCALE_BLOCK, np.uint16)  # the scratch the fast paths need
    if bf16:
        return [("bf16 fast", lambda y, c: L._scale_bf16(y, c, tmp)),
                ("bf16 exact", lambda y, c: L.scale_exact(y, c, 2))]
    paths = [("f16 exact (integer)", lambda y, c: L.scale_exact(y, c, 1))]
    if F.HAVE_F16C:
        paths += [("f16 F16C fast", lambda y, c: F._scale(y, c, tmp)),
                  ("f16 F16C exact", F._scale_exact)]
    return paths


@pytest.mark.parametrize("bf16", [False, True], ids=["float16", "bfloat16"])
def test_every_pattern_every_path_matches_reference(bf16):
    for c in COEFS:
        want = ALL.copy() if bf16 else ALL.view(np.float16).copy()
        R.seg_scale_([want], np.array([c]))
        for name, scale in _paths(bf16):
            got = ALL.copy()
            scale(got, c)
            _same(got, want.view(np.uint16), bf16, f"{name}, c={c!r}")
            got = ALL.copy()  # blocks shifted by 5 values; a last partial block of 59
            scale(got[5:], c)
            _same(got[5:], want.view(np.uint16)[5:], bf16, f"{name}, c={c!r}, offset 5")


def _lowp(dtype, n_max=40):
    values = st.one_of(st.floats(-7e4, 7e4), st.floats(-1e-6, 1e-6),
                       st.sampled_from([0.0, -0.0, np.inf, -np.inf, np.nan, 65504.0, 6e-8]))
    return hnp.arrays(np.float64, st.integers(0, n_max), elements=values).map(
        lambda x: H.from_f64(x, dtype))


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.sampled_from([np.dtype(np.float16), H.BF16_BITS]), st.data(),
       st.one_of(st.floats(0, 4), st.sampled_from([1e-5, 2.0**-11, 1 + 2.0**-11, 1e30])))
def test_kernels_match_reference_on_any_array(dtype, data, c):
    """Empty, size-1, short, Fortran-ordered and non-finite arrays, several in one call."""
    arrs = [data.draw(_lowp(dtype)) for _ in range(data.draw(st.integers(1, 3)))]
    if arrs[0].size >= 6:
        arrs[0] = np.asfortranarray(arrs[0][:6].reshape(2, 3))
    coefs = np.array([c] * len(arrs))
    got, want = [a.copy() for a in arrs], [a.copy() for a in arrs]
    K.seg_scale_(got, coefs)
    R.seg_scale_(want, coefs)
    for g, w in zip(got, want, strict=True):
        _same(g.reshape(-1, order="A").view(np.uint16), w.reshape(-1, order="A").view(np.uint16),
              dtype == H.BF16_BITS)


@pytest.mark.parametrize("dtype", [np.float16, "bfloat16"])
def test_large_strided_gradient_clips_like_reference(dtype):
    """A 3M-element gradient (threads, many blocks) and a strided view of one, clipped."""
    if dtype == "bfloat16":
        dtype = pytest.importorskip("ml_dtypes").bfloat16
    base = (np.random.default_rng(1).standard_normal(3_000_003) * 30).astype(dtype)
    for view in (lambda a: a, lambda a: a[::3]):
        a, b = base.copy(), base.copy()
        norm = C.clip_grad_norm_(view(a), 1.0, backend="numba")
        assert norm == pytest.approx(C.clip_grad_norm_(view(b), 1.0, backend="numpy"), rel=1e-12)
        assert norm > 1.0  # clipping was active
        np.testing.assert_array_equal(a.view(np.uint16), b.view(np.uint16))
