"""``group=``: sharded gradients give the one-process norm, bit for bit.

The communicator is a fake: each "rank" runs in its own thread and ``allgather`` is a real
collective over a barrier (clip uses only ``group.allgather``, as documented)."""

import threading

import numpy as np
import pytest

import tinyclipnn.clip as C

BACKENDS = ["numpy", "numba"]


class FakeWorld:
    """``size`` ranks in one process; ``comm(r)`` is rank r's mpi4py-like communicator."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.slots = [None] * size
        self.barrier = threading.Barrier(size)

    def comm(self, rank: int):
        world = self

        class Comm:
            def Get_rank(self):
                return rank

            def Get_size(self):
                return world.size

            def allgather(self, obj):
                world.slots[rank] = obj
                world.barrier.wait()
                out = list(world.slots)
                world.barrier.wait()  # nobody overwrites a slot before all have read
                return out

        return Comm()


def run_ranks(world_size, fn):
    """``[fn(rank, comm) for each rank]``, run concurrently (one thread per rank)."""
    world = FakeWorld(world_size)
    out, errors = [None] * world_size, []

    def body(r):
        try:
            out[r] = fn(r, world.comm(r))
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
            world.barrier.abort()

    threads = [threading.Thread(target=body, args=(r,)) for r in range(world_size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]
    return out


def shard(x, world, rng):
    """Split x at random multiples of SHARD_ALIGN into ``world`` contiguous copies."""
    blocks = -(-x.size // C.SHARD_ALIGN)
    cuts = np.sort(rng.integers(0, blocks + 1, world - 1)) * C.SHARD_ALIGN
    return [s.copy() for s in np.split(x, np.minimum(cuts, x.size))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, np.inf])
def test_group_norm_bit_identical_at_every_world_size(backend, dtype, p):
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(5 * C.SHARD_ALIGN + 123) * 3).astype(dtype)
    want = C.get_total_norm(x, p, backend=backend)
    for world in (1, 2, 3, 4, 7):
        shards = shard(x, world, rng)
        got = run_ranks(world, lambda r, g, s=shards: C.get_total_norm(s[r], p, backend=backend,
                                                                       group=g))
        assert got == [want] * world, (world, got, want)  # bit-identical


@pytest.mark.parametrize("backend", BACKENDS)
def test_group_norm_overflow_safe_and_nonfinite_identical(backend):
    rng = np.random.default_rng(1)
    x = np.full(3 * C.SHARD_ALIGN, 1e300)
    x[::7] = 1e-300
    want = C.get_total_norm(x, backend=backend)
    assert np.isfinite(want) and want > 1e302
    s = shard(x, 3, rng)
    got = run_ranks(3, lambda r, g: C.get_total_norm(s[r], backend=backend, group=g))
    assert got == [want] * 3
    y = rng.standard_normal(2 * C.SHARD_ALIGN).astype(np.float32)
    y[5] = np.nan
    ys = [y[: C.SHARD_ALIGN].copy(), y[C.SHARD_ALIGN:].copy()]
    before = [a.copy() for a in ys]
    got = run_ranks(2, lambda r, g: C.clip_grad_norm_(ys[r], 1.0, nonfinite="skip",
                                                      backend=backend, group=g))
    assert all(np.isnan(v) for v in got)  # rank 1 has only finite values, yet skips too
    for a, b in zip(ys, before, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("backend", BACKENDS)
def test_group_clip_scales_every_shard_by_the_global_coefficient(backend):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(4 * C.SHARD_ALIGN).astype(np.float32)
    whole = x.copy()
    C.clip_grad_norm_(whole, 1.0, backend=backend)
    s = shard(x, 3, rng)
    run_ranks(3, lambda r, g: C.clip_grad_norm_(s[r], 1.0, backend=backend, group=g))
    np.testing.assert_array_equal(np.concatenate(s), whole)


@pytest.mark.parametrize("factory", [
    lambda g: C.ZClip(warmup_steps=3, z_thresh=2.0, group=g),
    lambda g: C.ZClip(warmup_steps=3, z_thresh=2.0, skip_update_on_spike=True, group=g),
    lambda g: C.AutoClip(50.0, group=g),
    lambda g: C.ClipGradNorm(1.0, group=g),
])
def test_stateful_clippers_stay_identical_across_ranks(factory):
    rng = np.random.default_rng(3)
    steps = [rng.standard_normal(2 * C.SHARD_ALIGN) * s for s in (1, 1, 1.1, 0.9, 1, 50, 1)]

    def rank(r, g):
        clip, reports = factory(g), []
        for x in steps:
            part = x[r * C.SHARD_ALIGN : (r + 1) * C.SHARD_ALIGN].copy()
            rep = clip(part)
            reports.append((rep.total_norm, rep.max_norm, rep.coef, rep.clipped, rep.skipped))
        return reports, repr(clip.state_dict())

    (rep0, st0), (rep1, st1) = run_ranks(2, rank)
    assert rep0 == rep1 and st0 == st1
    assert [r[0] for r in rep0] == [C.get_total_norm(x) for x in steps]


# --- the ranks agree on their settings, or every rank raises the same error --------------

def outcomes(world_size, fn, timeout=10.0):
    """Each rank's ``("ok", result)`` or ``(exception type, message)``; unlike ``run_ranks`` a
    rank that raises does not release the others: one left waiting in ``allgather`` breaks
    the barrier after ``timeout`` seconds and reports ``BrokenBarrierError`` (a hang)."""
    world = FakeWorld(world_size)
    world.barrier = threading.Barrier(world_size, timeout=timeout)
    out = [None] * world_size

    def body(r):
        try:
            out[r] = ("ok", fn(r, world.comm(r)))
        except Exception as exc:  # noqa: BLE001  (compared below)
            out[r] = (type(exc), str(exc))

    threads = [threading.Thread(target=body, args=(r,)) for r in range(world_size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(4 * timeout)
    assert not any(t.is_alive() for t in threads)
    return out


def assert_all_raise(out, cls, *words):
    """Every rank raised the same ``cls`` error, whose message has every word."""
    assert {kind for kind, _ in out} == {cls}, out
    assert len({msg for _, msg in out}) == 1, out
    msg = out[0][1]
    for w in words:
        assert w in msg, (w, msg)
    return msg


def grads(world_size):
    return [np.full(C.SHARD_ALIGN, 3.0 + r) for r in range(world_size)]


def by_rank(*values):
    """Rank r's value: ``values[r % len(values)]``."""
    return lambda r: values[r % len(values)]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("name", "call", "shown"), [
    ("max_norm", lambda x, g, v: C.clip_grad_norm_(x, v(g.Get_rank()), group=g) and None,
     ("1.0 on ranks 0, 2", "10.0 on rank 1")),
    ("norm_type", lambda x, g, v: C.clip_grad_norm_(x, 1.0, v(g.Get_rank()), group=g),
     ("2.0 on ranks 0, 2", "inf on rank 1")),
    ("nonfinite", lambda x, g, v: C.clip_grad_norm_(x, 1.0, nonfinite=v(g.Get_rank()), group=g),
     ("'propagate' on ranks 0, 2", "'skip' on rank 1")),
    ("norm_type", lambda x, g, v: C.get_total_norm(x, v(g.Get_rank()), group=g),
     ("2.0 on ranks 0, 2", "inf on rank 1")),
    ("error_if_nonfinite", lambda x, g, v: C.get_total_norm(x, error_if_nonfinite=v(
        g.Get_rank()) == "skip", group=g), ("False on ranks 0, 2", "True on rank 1")),
    ("max_norm", lambda x, g, v: C.ClipGradNorm(v(g.Get_rank()), group=g)(x),
     ("1.0 on ranks 0, 2", "10.0 on rank 1")),
])
def test_ranks_that_disagree_all_raise_the_same_error_naming_each_value(name, call, shown):
    """Issue 22: ranks passing different settings got different norms and clipped by
    different rules, silently; now every rank raises the same ValueError, nothing changed."""
    values = {"max_norm": by_rank(1.0, 10.0), "norm_type": by_rank(2.0, float("inf")),
              "nonfinite": by_rank(None, "skip"), "error_if_nonfinite": by_rank(None, "skip")}
    xs = grads(3)
    before = [x.copy() for x in xs]
    out = outcomes(3, lambda r, g: call(xs[r], g, values[name]))
    assert_all_raise(out, ValueError, f"disagree on {name} [", *shown, "no rank changed")
    for x, b in zip(xs, before, strict=True):
        np.testing.assert_array_equal(x, b)


@pytest.mark.timeout(60)
def test_ranks_that_agree_raise_nothing():
    """Equal settings given differently (int vs float max_norm, 'inf' vs inf, None vs the
    default policy) agree; so does equal clipper state stored as int on one rank and float on
    the other (a NaN state is refused by ``load_state_dict`` itself)."""
    xs = grads(2)
    out = outcomes(2, lambda r, g: C.clip_grad_norm_(
        xs[r], [1, 1.0][r], ["inf", float("inf")][r], nonfinite=[None, "propagate"][r],
        group=g))
    assert out[0] == out[1] and out[0][0] == "ok", out

    def zclip(r, g):
        z = C.ZClip(warmup_steps=1, group=g)
        z.load_state_dict({"mean": [3, 3.0][r], "var": [1, np.float64(1.0)][r], "warmup": []})
        return z(np.ones(4)).total_norm

    out = outcomes(2, zclip)
    assert out[0] == out[1] == ("ok", 8**0.5), out


@pytest.mark.timeout(60)
def test_different_calls_all_raise():
    xs = grads(2)
    out = outcomes(2, lambda r, g: C.get_total_norm(xs[r], group=g) if r else
                   C.clip_grad_norm_(xs[r], 1.0, group=g))
    assert_all_raise(out, ValueError, "different clip calls", "clip_grad_norm_ on rank 0",
                     "get_total_norm on rank 1")
    np.testing.assert_array_equal(xs[0], 3.0)


@pytest.mark.timeout(60)
def test_clip_grad_norm_and_clip_grad_norm_object_are_one_call():
    xs = grads(2)
    out = outcomes(2, lambda r, g: C.ClipGradNorm(1.0, group=g)(xs[r]).total_norm if r else
                   C.clip_grad_norm_(xs[r], 1.0, group=g))
    assert out[0] == out[1] and out[0][0] == "ok", out


def read_only(x):
    view = x.view()
    view.flags.writeable = False
    return view


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("call", "cls", "words"), [
    (lambda x, r, g: C.clip_grad_norm_(x, -1.0 if r == 1 else 1.0, group=g), ValueError,
     ("rank 1 raised ValueError", "max_norm must be a number >= 0")),
    (lambda x, r, g: C.clip_grad_norm_(x, 1.0, 0.5 if r == 1 else 2.0, group=g), ValueError,
     ("rank 1 raised ValueError", "norm_type")),
    (lambda x, r, g: C.get_total_norm(x, "two" if r == 1 else 2.0, group=g), TypeError,
     ("rank 1 raised TypeError", "norm_type")),
    (lambda x, r, g: C.clip_grad_norm_(x if r != 1 else read_only(x), 1.0, group=g),
     ValueError, ("rank 1 raised ValueError", "read-only")),
    (lambda x, r, g: C.ClipGradNorm(1.0, group=g)(x if r != 1 else "grad"), TypeError,
     ("rank 1 raised TypeError",)),
    (lambda x, r, g: C.AutoClip(group=g)(x if r != 1 else [None]), TypeError,
     ("AutoClip with group=: rank 1 raised TypeError",)),
    (lambda x, r, g: C.LossScaler(group=g).unscale_and_clip_(x, -1.0 if r == 1 else 1.0),
     ValueError, ("rank 1 raised ValueError", "max_norm")),
])
def test_a_rank_that_fails_before_the_exchange_does_not_leave_the_others_waiting(call, cls,
                                                                               words):
    """Before, the other ranks waited forever in the collective; now they raise too."""
    xs = grads(3)
    before = [x.copy() for x in xs]
    out = outcomes(3, lambda r, g: call(xs[r], r, g))
    assert all(kind is not threading.BrokenBarrierError for kind, _ in out), out
    assert out[0] == out[2] and out[0][0] is cls, out
    for w in words:
        assert w in out[0][1], (w, out)
    assert out[1][0] is not threading.BrokenBarrierError and "rank 1" not in out[1][1], out
    for x, b in zip(xs, before, strict=True):
        np.testing.assert_array_equal(x, b)


def _autoclip_resumed_differently(r, g):
    clip = C.AutoClip(50.0, group=g)
    clip.load_state_dict({"norms": [1.0, 2.0, 3.0 + (r == 2)]})
    return clip


def _zclip_other_mean(r, g):
    clip = C.ZClip(warmup_steps=2, group=g)
    clip.load_state_dict({"mean": 1.0 + (r == 2), "var": 0.5, "warmup": []})
    return clip


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("make", "words"), [
    (lambda r, g: C.AutoClip([10.0, 10.0, 90.0][r], group=g),
     ("AutoClip with group=", "percentile [10.0 on ranks 0-1; 90.0 on rank 2]")),
    (lambda r, g: C.AutoClip(history=[None, None, 5][r], group=g), ("history [None on ranks 0-1",)),
    (_autoclip_resumed_differently, ("past norms (state) [3 norms (crc32 ",)),
    (lambda r, g: C.ZClip(z_thresh=[2.5, 2.5, 3.0][r], group=g), ("ZClip with group=",
                                                                  "z_thresh [2.5 on ranks 0-1")),
    (lambda r, g: C.ZClip(mode=["zscore", "zscore", "mean"][r], group=g), ("mode [",)),
    (_zclip_other_mean, ("EMA mean (state) [1.0 on ranks 0-1; 2.0 on rank 2]",)),
    (lambda r, g: C.LossScaler(init_scale=[8.0, 8.0, 16.0][r], group=g),
     ("scale (state) [8.0 on ranks 0-1; 16.0 on rank 2]",)),
    (lambda r, g: C.LossScaler(max_norm=[1.0, 1.0, None][r], group=g), ("max_norm [",)),
])
def test_stateful_clippers_check_their_settings_and_state(make, words):
    """A rank whose clipper has other settings, or was resumed from another checkpoint,
    would compute another threshold from the same norm: every rank raises instead."""
    xs = grads(3)
    clips = [None] * 3

    def rank(r, g):
        clips[r] = make(r, g)
        states = repr(clips[r].state_dict())
        try:
            return clips[r](xs[r])
        finally:
            assert repr(clips[r].state_dict()) == states  # nothing updated

    out = outcomes(3, rank)
    assert_all_raise(out, ValueError, *words, "no rank changed")
    for x in xs[1:]:
        assert not np.array_equal(x, xs[0]) and np.all(x == x[0])  # untouched


@pytest.mark.timeout(60)
def test_loss_scaler_clip_after_unscale_is_checked_too():
    xs = grads(2)

    def rank(r, g):
        s = C.LossScaler(init_scale=2.0, max_norm=[1.0, 2.0][r], group=g)
        s.unscale_([np.zeros(4)])  # agrees: max_norm plays no part in unscale_
        return s(xs[r])

    out = outcomes(2, rank)
    assert_all_raise(out, ValueError, "LossScaler (clipping after unscale_) with group=",
                     "max_norm [1.0 on rank 0; 2.0 on rank 1]")


@pytest.mark.timeout(60)
def test_many_ranks_message_lists_rank_ranges():
    xs = grads(7)
    out = outcomes(7, lambda r, g: C.clip_grad_norm_(xs[r], 2.0 if r in (3, 5, 6) else 1.0,
                                                     group=g))
    assert_all_raise(out, ValueError, "max_norm [1.0 on ranks 0-2, 4; 2.0 on ranks 3, 5-6]")
