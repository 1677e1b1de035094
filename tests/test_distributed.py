"""tinyclipnn.distributed under real ``mpiexec -n K`` (K = 1..4, oversubscribed): DataParallel,
ZeroOptimizer (plain, hybrid), distributed DP-SGD and faults. The checks run inside the
modules of ``tests/mpi_cases`` (one mpiexec job per world size runs them all; every test here
reuses it) and each test asserts that one named check passed on every rank."""

import subprocess
import sys
import time

import pytest
from _mpi import CASES, ROOT, assert_case, needs_mpi, run_mpi

SIZES = (1, 2, 3, 4)
DP_CHECKS = ["dp_broadcast", "dp_grad_identical_on_ranks", "dp_grad_equals_full_batch",
             "dp_many_buckets", "dp_bucketed_equals_one_allreduce",
             "dp_attach_matches_one_process", "zero_matches_dp_align1",
             "zero_matches_dp_align8", "zero_matches_dp_align4096",
             "zero_clipper_object_norm_is_whole_model", "zero_clipper_object_same_report_on_ranks",
             "zero_rejects_clipper_no_group", "zero_nan_on_one_rank_skips_everywhere",
             "zero_state_is_one_nth",
             "zero_state_is_one_nth_default_align",
             "shard_counts_aligned", "dpsgd_sum_equals_one_process",
             "dpsgd_noise_identical_on_ranks", "dpsgd_noise_added_once"]
MULTI_RANK = ["dp_mismatch_shape_raises_on_every_rank", "dp_mismatch_count_raises_on_every_rank",
              "zero_rejects_clipper_wrong_group"]
HYBRID = ["hybrid_matches_dp", "hybrid_shard_group_norm_is_whole_model",
          "hybrid_wrong_group_norm_differs"]
DP_PARAMS = [(k, c) for k in SIZES for c in DP_CHECKS + (MULTI_RANK if k > 1 else [])
             + (HYBRID if k == 4 else [])]


P_NAMES = ("1.0", "2.0", "3.0", "inf")
CLIP_CHECKS = (
    [f"bitwise_{dt}_{v}_p{p}" for dt in ("float32", "float64")
     for v in ("normal", "huge", "tiny", "short") for p in P_NAMES]
    + [f"whole_tensors_p{p}" for p in P_NAMES]
    + ["clip_same_coefficient"]
    + [f"nonfinite_{pol}_same_on_every_rank" for pol in ("skip", "zero", "error")]
    + [f"{c}_{w}" for c in ("AutoClip", "ZClip")
       for w in ("state_identical_on_ranks", "matches_one_process")])
CLIP_PARAMS = [(k, c) for k in SIZES for c in CLIP_CHECKS]


@needs_mpi
@pytest.mark.parametrize(("k", "check"), CLIP_PARAMS, ids=[f"{k}-{c}" for k, c in CLIP_PARAMS])
def test_group_clip(k, check):
    """Items 1-2: clip's group= (bit-identical aligned shards, 1e-15 whole tensors, one
    non-finite decision, identical stateful-clipper state) at world sizes 1-4."""
    assert_case(k, check)


@needs_mpi
@pytest.mark.parametrize(("k", "check"), DP_PARAMS, ids=[f"{k}-{c}" for k, c in DP_PARAMS])
def test_data_parallel_zero_dpsgd(k, check):
    assert_case(k, check)


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
