"""The norms' numerics unit (``kernels.config.NORM_BLOCK``) is apart from the CPU speed knob
(``CHUNK``, elements a thread claims at once): retuning the knob changes no bit of any norm,
and shards aligned to ``SHARD_ALIGN`` keep giving the one-process norm, bit for bit."""

import numpy as np
import pytest
from test_clip_group import run_ranks, shard

import tinyclipnn.clip as C
import tinyclipnn.distributed as D
from tinyclipnn.kernels import config, reference, runtime

pytest.importorskip("numba")
K = pytest.importorskip("tinyclipnn.kernels.cpu.clip")


def test_shard_align_is_a_multiple_of_the_norm_block_not_the_chunk():
    assert D.SHARD_ALIGN % config.NORM_BLOCK == 0
    assert C.SHARD_ALIGN == config.NORM_BLOCK
    assert config.CHUNK % config.NORM_BLOCK == 0


@pytest.mark.timeout(300)
@pytest.mark.parametrize("chunk_blocks", [1, 3, 64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_chunk_size_changes_no_norm_bit(monkeypatch, chunk_blocks, dtype):
    rng = np.random.default_rng(chunk_blocks)
    # above PARALLEL_MIN: the work is split over threads, in claims of CHUNK elements
    x = (rng.standard_normal(11 * config.NORM_BLOCK + 321) * 3).astype(dtype)
    arrays = [x, x[: 2 * config.NORM_BLOCK + 5].copy()]
    sums0, scales0, first0 = K.seg_partials(arrays, 2.0)
    want = C.get_total_norm(x, backend="numba")
    monkeypatch.setattr(runtime, "CHUNK", chunk_blocks * config.NORM_BLOCK)
    sums, scales, first = K.seg_partials(arrays, 2.0)
    np.testing.assert_array_equal(sums, sums0)
    np.testing.assert_array_equal(scales, scales0)
    np.testing.assert_array_equal(first, first0)
    assert first[-1] == reference.seg_partials(arrays, 2.0)[2][-1]  # the reference's blocks
    for backend in ("numba", "numpy"):
        one = C.get_total_norm(x, backend=backend)
        assert backend == "numpy" or one == want
        for world in (2, 3):
            shards = shard(x, world, rng)
            got = run_ranks(world, lambda r, g, s=shards, b=backend: C.get_total_norm(
                s[r], backend=b, group=g))
            assert got == [one] * world, (backend, world, got, one)


def test_shard_counts_cut_on_the_distributed_alignment():
    counts = D.shard_counts(5 * D.SHARD_ALIGN + 7, 3)
    edges = np.cumsum(counts)[:-1]
    assert sum(counts) == 5 * D.SHARD_ALIGN + 7 and all(e % D.SHARD_ALIGN == 0 for e in edges)
