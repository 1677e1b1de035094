"""The fused global-norm clip (``seg_clip_norm_``: both passes in one threaded call) and the
work claiming under it (``claim_run``), against the numpy reference and the unfused passes."""

import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_clip_kernels import NORMS, PLANNED, SETTINGS, _given, array_lists

from tinyclipnn.kernels import reference as R
from tinyclipnn.kernels.clip_decision import NonFinite

K = pytest.importorskip("tinyclipnn.kernels.cpu.clip")
from tinyclipnn.kernels import runtime  # noqa: E402
from tinyclipnn.kernels.cpu import _claims, _reductions  # noqa: E402

POLICIES = list(NonFinite)
EXACT_P = [1.0, 2.0, np.inf]  # no pow(): the compiled combine repeats numpy's operations


def _partial_values():
    special = st.sampled_from([0.0, 1e-300, 1e300, 1.7e308, np.inf, np.nan])
    return st.one_of(st.floats(0.0, 1e6), special)


@SETTINGS
@given(st.lists(st.tuples(_partial_values(), st.sampled_from([0.0, 0.0, 1e-10, 3.0, 1e300])),
                max_size=40), st.sampled_from(NORMS))
def test_compiled_combine_equals_reference(pairs, p):
    sums = np.array([s for s, _ in pairs], np.float64)
    scales = np.array([c for _, c in pairs], np.float64)
    got = _reductions.combine_partials(sums, scales, p)
    want = R.combine_partials(sums, scales, p)
    if p in EXACT_P:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-14, equal_nan=True)


def _unfused(arrays, p, max_norm, policy, unscale):
    """The two separate Numba passes with the numpy combine in between."""
    sums, scales, _ = K.seg_partials(arrays, p)
    total = R.combine_partials(sums, scales, p) * unscale
    if not np.isfinite(total) and policy != NonFinite.PROPAGATE:
        if policy == NonFinite.ZERO:
            K.seg_fill_(arrays, 0.0)
            return total, 0.0
        return total, 1.0
    with np.errstate(all="ignore"):
        coef = float(np.float64(max_norm) / (total + 1e-6))
    coef = coef if (coef < 1.0 or coef != coef) else 1.0
    if coef * unscale != 1.0:
        K.seg_scale_(arrays, np.full(len(arrays), coef * unscale))
    return total, coef


def _copies(arrays):
    return [a.copy(order="A") for a in arrays]


def _assert_same(xs, ys):
    for x, y in zip(xs, ys, strict=True):
        bits = f"u{x.dtype.itemsize}"  # compare bits: NaN payloads and signed zeros included
        np.testing.assert_array_equal(x.reshape(-1).view(bits), y.reshape(-1).view(bits))


@PLANNED
@SETTINGS
@given(array_lists(), st.sampled_from(EXACT_P), st.floats(0.0, 10.0),
       st.sampled_from(POLICIES), st.sampled_from([1.0, 0.125]))
def test_fused_equals_unfused_bit_for_bit(planned, arrays, p, max_norm, policy, unscale):
    a1, a2 = _copies(arrays), _copies(arrays)
    got = K.seg_clip_norm_(_given(a1, planned), p, max_norm, 1e-6, policy, unscale)
    want = _unfused(a2, p, max_norm, policy, unscale)
    np.testing.assert_array_equal(got, want)
    _assert_same(a1, a2)


@SETTINGS
@given(array_lists(), st.sampled_from(NORMS), st.floats(0.0, 10.0),
       st.sampled_from(POLICIES), st.sampled_from([1.0, 0.125]))
def test_fused_matches_reference(arrays, p, max_norm, policy, unscale):
    a1, a2 = _copies(arrays), _copies(arrays)
    t1, c1 = K.seg_clip_norm_(a1, p, max_norm, 1e-6, policy, unscale)
    t2, c2 = R.seg_clip_norm_(a2, p, max_norm, 1e-6, policy, unscale)
    np.testing.assert_allclose([t1, c1], [t2, c2], rtol=1e-10, equal_nan=True)
    for x, y in zip(a1, a2, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-6, equal_nan=True)


def _big(dtype, n=1_500_000, bad=None):
    """An array of ``n`` values over many chunks (several threads), optionally one bad value."""
    x = np.random.default_rng(3).standard_normal(n) * 3.0
    if bad is not None:
        x[n // 2 + 17] = bad
    if dtype == "bfloat16":
        ml_dtypes = pytest.importorskip("ml_dtypes")
        return x.astype(ml_dtypes.bfloat16).view(np.uint16)
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, "bfloat16"])
@pytest.mark.parametrize("bad", [None, np.inf, np.nan])
@pytest.mark.parametrize("policy", POLICIES)
def test_fused_threads_equal_unfused(dtype, bad, policy):
    """Many chunks, several threads, every dtype: bit-identical to the separate passes."""
    x = _big(dtype, bad=bad)
    small = [_big(dtype, 5)[:3].copy(), x[:1000].copy()]
    for arrays in ([x], [small[0], x, small[1]]):
        a1, a2 = _copies(arrays), _copies(arrays)
        got = K.seg_clip_norm_(a1, 2.0, 1.0, 1e-6, policy)
        want = _unfused(a2, 2.0, 1.0, policy, 1.0)
        np.testing.assert_array_equal(got, want)
        _assert_same(a1, a2)
        if bad is not None and policy in (NonFinite.SKIP, NonFinite.ERROR):
            _assert_same(a1, arrays)  # nothing written


def test_fused_is_the_same_for_any_thread_count():
    numba = pytest.importorskip("numba")
    x = _big(np.float32, 3_000_000)
    results = []
    before = numba.get_num_threads()
    try:
        for threads in (1, before):
            numba.set_num_threads(threads)
            a = x.copy()
            results.append((K.seg_clip_norm_([a], 2.0, 1.0, 1e-6, NonFinite.PROPAGATE), a))
    finally:
        numba.set_num_threads(before)
    (r1, a1), (r2, a2) = results
    assert r1 == r2
    _assert_same([a1], [a2])


def test_empty_and_zero_threshold():
    assert K.seg_clip_norm_([], 2.0, 1.0, 1e-6, NonFinite.PROPAGATE) == (0.0, 1.0)
    assert K.seg_clip_norm_([np.zeros(0, np.float32)], 2.0, 1.0, 1e-6, NonFinite.ZERO) == (0.0, 1.0)
    a = np.ones(4, np.float32)
    assert K.seg_clip_norm_([a], 2.0, 0.0, 1e-6, NonFinite.PROPAGATE) == (2.0, 0.0)
    assert not a.any()


# --- claim_run: the work claiming under the fused and the per-item kernels ----------------

def _recording_kernel(hits, fail_in=None):
    """A Python kernel for ``claim_run`` that records which items it did; ``fail_in``:
    "pool" fails at once in the pool threads, "caller" after one batch in the calling thread."""

    def kernel(n_items, claims):
        in_pool = threading.current_thread().name.startswith("tinyclipnn")
        if fail_in == "pool" and in_pool:
            raise RuntimeError("failed in a pool thread")
        done = 0
        lo, hi = _claims.claim(claims, n_items, 0)
        while lo < hi:
            hits[lo:hi] += 1
            done += hi - lo
            if fail_in == "caller" and not in_pool:
                raise RuntimeError("failed in the calling thread")
            lo, hi = _claims.claim(claims, n_items, hi - lo)
        return done

    return kernel


@pytest.mark.parametrize("n_items", [0, 1, 5, 64, 1000])
@pytest.mark.parametrize("threads", [1, 2, 4])
def test_claim_run_does_every_item_once(n_items, threads):
    hits = np.zeros(n_items, np.int64)
    runtime.claim_run(_recording_kernel(hits), n_items, threads, n_items)
    np.testing.assert_array_equal(hits, 1)


@pytest.mark.timeout(60)
def test_claim_run_with_a_failing_pool_thread_finishes_or_raises():
    """The pool thread fails: either the caller did every item (the error is moot) or the
    error is raised; never a hang, never an item done twice."""
    hits = np.zeros(1000, np.int64)
    for _ in range(20):  # whether or not the pool thread starts before the work runs out
        hits[:] = 0
        try:
            runtime.claim_run(_recording_kernel(hits, "pool"), 1000, 2, 1000)
        except RuntimeError as e:
            assert "pool thread" in str(e)
            assert hits.max() <= 1
        else:
            np.testing.assert_array_equal(hits, 1)


@pytest.mark.timeout(60)
def test_claim_run_error_in_the_caller_waits_for_the_pool_then_raises():
    hits = np.zeros(1000, np.int64)
    with pytest.raises(RuntimeError, match="calling thread"):
        runtime.claim_run(_recording_kernel(hits, "caller"), 1000, 2, 1000)
    frozen = hits.copy()  # every thread has stopped: nothing changes after the raise
    assert frozen.max() <= 1
    threading.Event().wait(0.05)
    np.testing.assert_array_equal(hits, frozen)


@pytest.mark.timeout(120)
def test_fused_clips_from_several_python_threads_at_once():
    """Python threads share the kernels' thread pool: each call's items are still all done,
    once, and each result equals the same clip run alone."""
    sources = [_big(np.float32, 700_000 + 50_000 * k) for k in range(4)]
    want = []
    for src in sources:
        a = src.copy()
        want.append((K.seg_clip_norm_([a], 2.0, 1.0, 1e-6, NonFinite.PROPAGATE), a))
    got: dict[int, list] = {k: [] for k in range(len(sources))}

    def work(k):
        for _ in range(10):
            a = sources[k].copy()
            got[k].append((K.seg_clip_norm_([a], 2.0, 1.0, 1e-6, NonFinite.PROPAGATE), a))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(sources))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(100)
    for k, (result, array) in enumerate(want):
        assert len(got[k]) == 10
        for r, a in got[k]:
            assert r == result
            _assert_same([a], [array])
