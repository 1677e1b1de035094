"""The reuse of recent gathers (the cache of ``clip/_gather.py``) and of backend plans: a list clipped
again is re-validated on every call, and any change to an array since gives the same result
(or the same error) as a first call would."""

import gc
import weakref
from types import SimpleNamespace

import numpy as np
import pytest

import tinyclipnn.clip as C
from tinyclipnn.kernels.runtime import IdentityCache

BACKENDS = ["numpy", "numba"]


def _norm(arrays):
    return float(np.sqrt(sum(float(np.sum(np.asarray(a, np.float64) ** 2)) for a in arrays)))


def _params(sizes, seed=0):
    rng = np.random.default_rng(seed)
    return [SimpleNamespace(grad=rng.standard_normal(n).astype(np.float32)) for n in sizes]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_list_clipped_again_gives_the_reference_result(backend):
    params = _params([3, 70000, 5, 40000])
    for _ in range(3):  # the second and third calls reuse the first gather
        before = [p.grad.copy() for p in params]
        total = C.clip_grad_norm_(params, 10.0, backend=backend)
        assert total == pytest.approx(_norm(before), rel=1e-6)
        coef = 10.0 / (total + 1e-6)
        for p, b in zip(params, before, strict=True):
            np.testing.assert_allclose(p.grad, b * coef, rtol=1e-6)


def test_numpy_refuses_to_resize_an_array_the_caches_hold():
    """The reuse skips size checks because numpy refuses to resize an array that has weak
    references (the caches hold one): if numpy ever allowed it, sizes must be checked again."""
    arrays = [np.ones(70000, np.float32), np.ones(5, np.float32)]
    C.clip_grad_norm_(arrays, 1e9)
    with pytest.raises(ValueError, match="referenced"):
        arrays[1].resize(100_000, refcheck=False)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_replaced_gradient_is_the_one_clipped(backend):
    params = _params([10, 20])
    C.clip_grad_norm_(params, 1e9, backend=backend)
    old = params[1].grad
    params[1].grad = np.full(20, 3.0, np.float32)
    C.clip_grad_norm_(params, 1.0, backend=backend)
    assert np.linalg.norm(params[1].grad) < 1.0
    assert np.abs(old).max() > 0.1  # the replaced array is left alone
    params[1].grad = None  # a None gradient is skipped, as on a first call
    total = C.clip_grad_norm_(params, 1e9, backend=backend)
    assert total == pytest.approx(np.linalg.norm(params[0].grad.astype(np.float64)), rel=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_non_contiguous_array_after_reuse_is_still_clipped_in_place(backend):
    base = np.ones((4, 6), np.float32)
    arrays = [np.ones(7, np.float32), base]
    C.clip_grad_norm_(arrays, 1e9, backend=backend)
    arrays[1] = base[:, ::2]  # a new, strided object in the same slot
    C.clip_grad_norm_(arrays, 1.0, backend=backend)
    assert np.linalg.norm(np.concatenate([arrays[0], arrays[1].ravel()])) < 1.0
    np.testing.assert_array_equal(base[:, 1::2], 1.0)


def test_get_total_norm_then_clip_on_read_only_arrays():
    """A gather kept for a read-only call must not let a later writing call through."""
    arrays = [np.ones(5, np.float32), np.ones(7, np.float32)]
    arrays[0].flags.writeable = False
    assert C.get_total_norm(arrays) == pytest.approx(np.sqrt(12.0))
    with pytest.raises(ValueError, match="read-only"):
        C.clip_grad_norm_(arrays, 1.0)
    np.testing.assert_array_equal(arrays[1], 1.0)


def test_identity_cache_never_matches_a_freed_object_whose_id_is_reused():
    cache = IdentityCache(4)
    first = [np.ones(3)]
    cache.put(first, "first")
    assert cache.get(first) == "first"
    assert cache.get([np.ones(3)]) is None  # equal, not identical
    key_id = id(first[0])
    del first
    gc.collect()
    for _ in range(1000):  # try to get a new array at the freed address
        candidate = [np.ones(3)]
        if id(candidate[0]) == key_id:
            assert cache.get(candidate) is None
            break


def test_identity_cache_keeps_only_the_most_recent_entries():
    cache = IdentityCache(2)
    lists = [[np.ones(1)] for _ in range(3)]
    for i, objs in enumerate(lists):
        cache.put(objs, i)
    assert cache.get(lists[0]) is None
    assert [cache.get(lists[1]), cache.get(lists[2])] == [1, 2]


def test_plans_are_the_numba_backends_own():
    from tinyclipnn.clip._pipeline import backend_for
    from tinyclipnn.kernels.cpu import clip as K

    assert backend_for("numba", False).plan is not None
    assert backend_for("numpy", False).plan is None  # given the list itself
    arrays = [np.ones(4, np.float32)]
    table = K.plan(arrays)
    assert len(table) == 1
    sums, scales, first = K.seg_partials(table, 2.0)
    assert float(sums.sum()) == 4.0 and first.tolist() == [0, 1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_reused_gather_does_not_keep_freed_gradients_alive(backend):
    """What the caches keep holds no reference to the arrays: a model's gradients are freed
    when the model is, however often they were clipped."""
    params = _params([1000, 70000])
    for _ in range(2):
        C.clip_grad_norm_(params, 1.0, backend=backend)
    refs = [weakref.ref(p.grad) for p in params]
    del params
    gc.collect()
    assert all(r() is None for r in refs)


def test_identity_cache_entry_whose_object_died_never_matches_a_none():
    """A dead weak reference dereferences to None: it must not match a None in the list."""
    cache = IdentityCache(2)
    kept, dies = np.ones(2), np.ones(3)
    cache.put([kept, dies], "value")
    del dies
    gc.collect()
    assert cache.get([kept, None]) is None
