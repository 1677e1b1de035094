"""Distributed char-LSTM step: communication and clipping time against compute, 1 and 2 ranks.

Per training step of the char LSTM (hidden 128, vocab 96, global batch 32 x seq 64, float32,
gradient ~0.47 MB) each rank times: compute (forward + backward on its slice of the batch),
the gradient all-reduce of ``DataParallel.sync_grads`` (one all-reduce vs buckets of
``--bucket-mb``), the local clip (``clip_grad_norm_`` on the whole GradBuffer, as after
DataParallel) and the clip of a ZeRO shard without and with ``group=comm`` (the local chunk
partials plus one allgather). Each sample is 10 back-to-back calls (collectives keep the
ranks in step, as in the OSU micro-benchmarks) and the candidates alternate. Medians, and
minima for the clip (a shared machine delays whichever rank the other waits for). Then it fits
the alpha-beta model ``t(n) = a + b*n`` to 2-rank all-reduce times over message sizes, the
constants of the README's ring all-reduce estimate. Each world size runs as its own
``mpiexec`` job, alternating over ``--rounds`` rounds; medians are reported.

    python benchmarks/bench_distributed.py [--quick] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

_p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_p.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
_p.add_argument("--rounds", type=int, default=3, help="mpiexec jobs per world size")
_p.add_argument("--bucket-mb", type=float, default=0.1, help="small bucket size (MiB)")
_p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
ARGS = _p.parse_args()
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "1"  # one thread per rank: two ranks share the two cores

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
from _harness import print_table, time_interleaved, time_median, write_results  # noqa: E402

VOCAB, HIDDEN, BATCH, SEQ = 96, 128, 32, 64
SIZES_BYTES = [8, 1 << 10, 1 << 14, 1 << 17, 1 << 20, 1 << 22]  # alpha-beta fit


def worker() -> None:
    from mpi4py import MPI

    import tinyclipnn as tc
    from tinyclipnn import clip
    from tinyclipnn.distributed import DataParallel, ZeroOptimizer
    from tinyclipnn.lab.charlm import CharLM, _loss
    from tinyclipnn.optim import SGD

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    reps = 5 if ARGS.quick else 25
    tc.manual_seed(0)
    model = CharLM(VOCAB, HIDDEN)
    dp_one = DataParallel(model, comm, bucket_mb=None)
    rng = np.random.default_rng(rank)
    ids = rng.integers(0, VOCAB, (SEQ + 1, BATCH // size))
    x, y = ids[:-1], ids[1:]

    def compute():
        dp_one.buffer.zero_grad()
        _loss(model, x, y).backward()

    out = {"ranks": size, "params": int(dp_one.buffer.flat.size)}
    out["compute_s"] = time_median(compute, repeats=reps)
    comm.Barrier()
    dp_bucket = DataParallel(model, comm, bucket_mb=ARGS.bucket_mb, broadcast=False)
    out["buckets"] = len(dp_bucket.buckets)
    zero = ZeroOptimizer(SGD, model.parameters(), comm, lr=0.0)  # SHARD_ALIGN shards
    zero.buffer.flat[:] = dp_one.buffer.flat
    zero.reduce_scatter_grads()
    shard, flat = zero.shard_grad, dp_one.buffer.flat
    # alternate the candidates of each comparison (a shared machine's load hits them alike);
    # the clip calls use a threshold above the norm: the extra cost of group= is in the norm
    timings = time_interleaved({  # back-to-back collectives synchronise the ranks themselves
        "allreduce_one": dp_one.sync_grads,
        "allreduce_bucketed": dp_bucket.sync_grads,
        "clip_local": lambda: clip.clip_grad_norm_(flat, 1e30),
        "clip_shard_local": lambda: clip.clip_grad_norm_(shard, 1e30),
        "clip_shard_group": lambda: clip.clip_grad_norm_(shard, 1e30, group=comm),
    }, repeats=reps, number=10)
    for name, t in timings.items():
        out[name + "_s"], out[name + "_min_s"] = t["median"], t["min"]
    if size > 1:  # alpha-beta: minima (a shared machine only ever adds delays)
        bufs = {n: np.ones(n // 4, np.float32) for n in SIZES_BYTES}
        comm.Barrier()
        t = time_interleaved({n: (lambda b=b: comm.Allreduce(MPI.IN_PLACE, b))
                              for n, b in bufs.items()}, repeats=reps, number=10)
        out["allreduce_sizes"] = [(n, t[n]["min"], t[n]["median"]) for n in SIZES_BYTES]
    if rank == 0:
        print("RESULT " + json.dumps(out), flush=True)


def run_job(ranks: int) -> dict:
    cmd = ["mpiexec", "-n", str(ranks), sys.executable, os.path.abspath(__file__), "--worker",
           "--bucket-mb", str(ARGS.bucket_mb)] + (["--quick"] if ARGS.quick else [])
    env = dict(os.environ, PYTHONPATH=ROOT)
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    for line in res.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"worker failed:\n{res.stdout}\n{res.stderr}")


def fit_alpha_beta(samples: list[tuple[int, float]]) -> tuple[float, float]:
    """Constants of the 2-rank ring all-reduce ``t(n) = 2*alpha + n*beta`` (two messages of
    n/2 bytes): alpha from the smallest message, beta the median slope over messages of
    16 KiB and more (robust to the odd slow sample of a shared machine). Returns (alpha
    seconds, beta seconds per byte)."""
    n0, t0 = samples[0]
    alpha = t0 / 2
    slopes = [(t - t0) / (n - n0) for n, t in samples if n >= 1 << 14]
    return alpha, float(np.median(slopes))


def ring_allreduce(p: int, nbytes: float, alpha: float, beta: float) -> float:
    """Ring all-reduce on p ranks: reduce-scatter + all-gather, 2(p-1) steps of n/p bytes."""
    return 2 * (p - 1) * (alpha + nbytes / p * beta)


def main() -> None:
    if ARGS.worker:
        worker()
        return
    runs: dict[int, list[dict]] = {1: [], 2: []}
    for _ in range(ARGS.rounds):
        for ranks in (1, 2):
            runs[ranks].append(run_job(ranks))
    keys = ["compute_s", "allreduce_one_s", "allreduce_bucketed_s", "clip_local_s",
            "clip_shard_local_s", "clip_shard_group_s", "clip_shard_group_min_s",
            "clip_shard_local_min_s"]
    rows = []
    for ranks, rs in runs.items():
        row = {"ranks": ranks, "params": rs[0]["params"], "buckets": rs[0]["buckets"]}
        for k in keys:
            row[k[:-2] + "_ms"] = 1e3 * float(np.median([r[k] for r in rs]))
        row["comm_share"] = row["allreduce_one_ms"] / (row["compute_ms"] + row["allreduce_one_ms"])
        rows.append(row)
    print_table(rows, ["ranks", "params", "buckets", "compute_ms", "allreduce_one_ms",
                       "allreduce_bucketed_ms", "clip_local_ms", "clip_shard_local_ms",
                       "clip_shard_group_ms", "clip_shard_local_min_ms",
                       "clip_shard_group_min_ms", "comm_share"])
    samples = [(n, float(min(dict((m, t) for m, t, _ in r["allreduce_sizes"])[n]
                              for r in runs[2]))) for n in SIZES_BYTES]
    alpha, beta = fit_alpha_beta(samples)
    grad_bytes = rows[0]["params"] * 4
    compute_2 = rows[1]["compute_ms"] / 1e3  # 16 sequences per rank
    # the group norm is one allgather of a few partials: latency-bound, log2(P) rounds of a
    # recursive-doubling allgather, each at most the measured 2-rank extra cost of group=
    norm_round = max(0.0, rows[1]["clip_shard_group_min_ms"] - rows[1]["clip_shard_local_min_ms"])
    est = []
    for p in (2, 8, 64, 1000):
        t_ar = ring_allreduce(p, grad_bytes, alpha, beta)
        est.append({"ranks": p, "allreduce_ms": 1e3 * t_ar,
                    "group_norm_ms": norm_round * np.ceil(np.log2(p)),
                    "compute_ms (16 seq/rank)": 1e3 * compute_2,
                    "comm_share": t_ar / (t_ar + compute_2)})
    print(f"\nalpha-beta fit (2 ranks, shared memory, minimum times): alpha = {alpha * 1e6:.2f} us, "
          f"beta = {beta * 1e9:.3f} ns/byte ({1 / beta / 1e9:.2f} GB/s)")
    print_table(est, list(est[0]))
    write_results("bench_distributed", rows, {
        "alpha_s": alpha, "beta_s_per_byte": beta, "allreduce_2ranks": samples,
        "ring_estimate": est, "gradient_bytes": grad_bytes, "runs": runs,
        "note": "2-core machine shared with other jobs; ranks are processes on one host "
                "(shared-memory MPI), one thread each"})


if __name__ == "__main__":
    main()
