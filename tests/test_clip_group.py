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
