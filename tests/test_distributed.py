"""tinyclipnn.distributed under real ``mpiexec -n K`` (K = 1..4, oversubscribed): DataParallel,
ZeroOptimizer (plain, hybrid), distributed DP-SGD and faults. The checks run inside the
worker scripts of ``tests/mpi_cases`` (one launch per script and world size, reused by every
test here); each test asserts that one named check passed on every rank."""

import subprocess
import sys
import time

import pytest
from _mpi import CASES, ROOT, assert_case, needs_mpi, run_mpi

SIZES = (1, 2, 3, 4)
DP_CHECKS = ["dp_broadcast", "dp_grad_identical_on_ranks", "dp_grad_equals_full_batch",
             "dp_many_buckets", "dp_bucketed_equals_one_allreduce",
             "dp_attach_matches_one_process", "zero_matches_dp_align1",
             "zero_matches_dp_align8", "zero_matches_dp_align4096", "zero_state_is_one_nth",
             "zero_state_is_one_nth_default_align",
             "shard_counts_aligned", "dpsgd_sum_equals_one_process",
             "dpsgd_noise_identical_on_ranks", "dpsgd_noise_added_once"]
MULTI_RANK = ["dp_mismatch_shape_raises_on_every_rank", "dp_mismatch_count_raises_on_every_rank"]
HYBRID = ["hybrid_matches_dp", "hybrid_shard_group_norm_is_whole_model",
          "hybrid_wrong_group_norm_differs"]
DP_PARAMS = [(k, c) for k in SIZES for c in DP_CHECKS + (MULTI_RANK if k > 1 else [])
             + (HYBRID if k == 4 else [])]


@needs_mpi
@pytest.mark.parametrize(("k", "check"), DP_PARAMS, ids=[f"{k}-{c}" for k, c in DP_PARAMS])
def test_data_parallel_zero_dpsgd(k, check):
    assert_case("dp_cases.py", k, check)


@needs_mpi
@pytest.mark.parametrize("mode", ["excepthook", "context"])
def test_exception_on_one_rank_ends_the_job(mode):
    t0 = time.perf_counter()
    res = run_mpi(3, [str(CASES / "fault_case.py"), mode], timeout=60)
    elapsed = time.perf_counter() - t0
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "injected failure on rank 2" in out and "MPI_Abort" in out, out
    assert "finished" not in out, out
    assert elapsed < 30, f"the job took {elapsed:.1f} s to end"


def test_import_does_not_load_mpi4py():
    code = ("import sys, tinyclipnn, tinyclipnn.distributed as d; "
            "assert 'mpi4py' not in sys.modules, 'mpi4py imported'; "
            "assert d.SHARD_ALIGN > 0; print('ok')")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert res.stdout.strip() == "ok", res.stderr
