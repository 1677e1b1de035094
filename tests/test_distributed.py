"""tinyclipnn.distributed under real ``mpiexec -n K`` (K = 1..4, oversubscribed): DataParallel,
ZeroOptimizer (plain, hybrid), distributed DP-SGD and faults. The checks run inside the
modules of ``tests/mpi_cases`` (one mpiexec job per world size runs them all; every test here
reuses it) and each test asserts that one named check passed on every rank."""

import subprocess
import sys
import time

import numpy as np
import pytest
from _mpi import CASES, ROOT, assert_case, needs_mpi, run_mpi, worker_env

SIZES = (1, 2, 3, 4)
DP_CHECKS = ["dp_broadcast", "dp_grad_identical_on_ranks", "dp_grad_equals_full_batch",
             "dp_many_buckets", "dp_bucketed_equals_one_allreduce",
             "dp_attach_matches_one_process", "dp_sync_once_per_step", "zero_matches_dp_align1",
             "zero_matches_dp_align8", "zero_matches_dp_align4096",
             "zero_clipper_object_norm_is_whole_model", "zero_clipper_object_same_report_on_ranks",
             "zero_rejects_clipper_no_group", "zero_nan_on_one_rank_skips_everywhere",
             "zero_state_dict_round_trip",
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
    + [f"{c}_{w}" for c in ("AutoClip", "ZClip", "LossScaler")
       for w in ("state_identical_on_ranks", "matches_one_process")])
CLIP_MULTI_RANK = ([f"disagree_{w}_raises_on_every_rank" for w in (
    "max_norm", "norm_type", "nonfinite", "autoclip_state", "zclip_settings", "losscaler_scale",
    "local_error")] + ["group_clip_works_after_disagreements"])
CLIP_PARAMS = [(k, c) for k in SIZES for c in CLIP_CHECKS + (CLIP_MULTI_RANK if k > 1 else [])]


@needs_mpi
@pytest.mark.parametrize(("k", "check"), CLIP_PARAMS, ids=[f"{k}-{c}" for k, c in CLIP_PARAMS])
def test_group_clip(k, check):
    """Items 1-2: clip's group= (bit-identical aligned shards, 1e-15 whole tensors, one
    non-finite decision, identical stateful-clipper state) at world sizes 1-4; issue 22:
    ranks that disagree on settings or state (or fail before the exchange) all raise."""
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


# --- in-process checks (no MPI started): layout helpers, argument errors, info -------------
class OneRank:
    """A communicator stand-in for argument checks that run before any MPI call."""

    def allgather(self, obj):
        return [obj]

    def Get_rank(self):
        return 0

    def Get_size(self):
        return 1


def test_shard_counts_and_buckets():
    from tinyclipnn.distributed import bucket_bounds, shard_counts

    for n, k, a in [(0, 3, 8), (1, 4, 8), (100, 3, 8), (10 * 4096 + 5, 3, 4096), (64, 4, 16)]:
        c = shard_counts(n, k, a)
        assert sum(c) == n and len(c) == k
        edges = np.cumsum([0] + c)[1:-1]
        assert all(e % a == 0 or e == n for e in edges)  # boundaries on the chunk grid
        assert max(c) <= -(-n // k) + a
    assert bucket_bounds(10, 4, 16 / 2**20) == [(0, 4), (4, 8), (8, 10)]
    assert bucket_bounds(10, 4, None) == [(0, 10)] and bucket_bounds(0, 4, 1.0) == []
    with pytest.raises(ValueError, match="shards and align"):
        shard_counts(10, 0)


def test_bad_arguments_raise_before_anything_changes():
    from tinyclipnn import clip, nn, optim
    from tinyclipnn.distributed import DataParallel, ZeroOptimizer

    model = nn.Linear(3, 2)
    data = [p.data for p in model.parameters()]
    with pytest.raises(ValueError, match="bucket_mb must be a number > 0"):
        DataParallel(model, OneRank(), bucket_mb=0)
    with pytest.raises(TypeError, match="module must be an nn.Module"):
        DataParallel([1, 2], OneRank())
    with pytest.raises(ValueError, match="align must be an int >= 1"):
        ZeroOptimizer(optim.SGD, model.parameters(), OneRank(), align=0, lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        ZeroOptimizer(optim.SGD, model.parameters(), OneRank(), lr=-1.0)
    with pytest.raises(TypeError, match="clipper must take group="):
        ZeroOptimizer(optim.SGD, model.parameters(), OneRank(), lr=0.1,
                      clipper=clip.ClipGradNormPerTensor(1.0))
    with pytest.raises(TypeError, match="single Tensor"):
        ZeroOptimizer(optim.SGD, next(model.parameters()), OneRank(), lr=0.1)
    assert all(p.data is d and p.grad is None for p, d in zip(model.parameters(), data,
                                                              strict=True))


@needs_mpi
def test_info_without_launcher_does_not_start_mpi():
    code = ("from tinyclipnn.lab.info import collect_info, format_info; i = collect_info(); "
            "from mpi4py import MPI; assert not MPI.Is_initialized(); "
            "print([l for l in format_info(i).splitlines() if l.startswith('MPI:')][0])")
    env = {k: v for k, v in worker_env().items() if not k.startswith(("PMI", "OMPI", "PMIX"))}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=env)
    assert res.returncode == 0, res.stderr
    assert "world size 1, not launched by mpiexec/srun" in res.stdout
    assert "mpi4py" in res.stdout


def test_info_without_mpi4py(monkeypatch):
    from tinyclipnn.distributed import mpi_info
    from tinyclipnn.lab.info import _format_mpi

    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py -> ImportError
    info = mpi_info()
    assert info == {"mpi4py": "not installed"}
    assert "pip install 'tinyclipnn[mpi]'" in _format_mpi(info)


@needs_mpi
def test_readme_snippets_run_on_two_ranks(tmp_path):
    """The distributed guide's examples run as written under ``mpiexec -n 2`` (both in one
    job: each is self-contained)."""
    import re

    text = (ROOT / "docs" / "guides" / "distributed.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n# docs: mpiexec -n 2\n(.*?)```", text, re.S)
    dp = [b for b in blocks if "DataParallel(model, comm" in b]
    zero = [b for b in blocks if "ZeroOptimizer(optim.Adam" in b]
    assert len(dp) == 1 and len(zero) == 1
    script = tmp_path / "snippets.py"
    script.write_text(dp[0] + "\n" + zero[0])
    res = run_mpi(2, [str(script)], timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "gradient norm" in res.stdout and res.stdout.count("Adam state") == 2
