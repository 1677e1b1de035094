"""Recurrent layers: one training step, fused Numba kernels vs composed cells vs PyTorch CPU.

One step = forward, loss = mean(output**2), backward (gradients of every parameter), float32.
Sizes: batch 32, input 64, and (seq 64, hidden 128) and (seq 256, hidden 32), for LSTM, GRU and
RNN (tanh). Each implementation (fused kernels, composed cells, PyTorch with
``torch.set_num_threads(THREADS)``) runs in its own worker process, alternating fused / torch
over ``--rounds`` rounds (best per-round median reported): in one process, whichever ran last
leaves its thread pool spin-waiting (OpenMP, OpenBLAS) and steals the other's second core.
numba and the BLAS get the same thread count. Peak memory is the peak of numpy allocations during
one step (tracemalloc) for tinyclipnn and of the CPU allocator (profiler) for PyTorch.

    python benchmarks/bench_rnn.py [--quick] [--threads 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import sys

_p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_p.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
_p.add_argument("--threads", type=int, default=2, help="threads for PyTorch, numba and BLAS")
_p.add_argument("--rounds", type=int, default=2, help="worker processes per implementation")
_p.add_argument("--worker", choices=["fused", "cells", "torch"], help=argparse.SUPPRESS)
ARGS = _p.parse_args()
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = str(ARGS.threads)  # before numpy / numba / torch are imported

import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _harness import print_table, time_median, torch_or_none, write_results  # noqa: E402

import tinyclipnn as tc  # noqa: E402

BATCH, INPUT = 32, 64
SHAPES = [(64, 128), (256, 32)]  # (seq, hidden)
KINDS = ["LSTM", "GRU", "RNN"]


def ours_step(kind: str, T: int, H: int, fused: bool):
    tc.manual_seed(0)
    m = getattr(tc.nn, kind)(INPUT, H, fused=fused)
    x = tc.Tensor(np.random.default_rng(0).standard_normal((T, BATCH, INPUT), dtype=np.float32))

    def step() -> None:
        m.zero_grad()
        y, _ = m(x)
        (y * y).mean().backward()

    return step


def torch_step(torch, kind: str, T: int, H: int):
    torch.manual_seed(0)
    m = getattr(torch.nn, kind)(INPUT, H)
    x = torch.randn(T, BATCH, INPUT)

    def step() -> None:
        m.zero_grad()
        y, _ = m(x)
        (y * y).mean().backward()

    return step


def numpy_peak_mb(step) -> float:
    from tinyclipnn.kernels.cpu import _workspace

    _workspace.clear()  # so the reused scratch buffers are allocated (and counted) in this step
    tracemalloc.start()
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def torch_peak_mb(torch, step) -> float | None:
    try:
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU],
                                    profile_memory=True) as prof:
            step()
        usage, peak = 0, 0
        for ev in sorted(prof.events(), key=lambda e: e.time_range.start):
            usage += ev.self_cpu_memory_usage
            peak = max(peak, usage)
        return peak / 2**20
    except Exception:  # pragma: no cover - profiler API differences
        return None


def worker(impl: str) -> None:
    """Time every case for one implementation; print one JSON line of results."""
    import json

    if impl != "torch":  # (starting numba's thread pool in the torch worker slows torch 10x)
        import numba

        numba.set_num_threads(min(ARGS.threads, numba.config.NUMBA_NUM_THREADS))
    torch = torch_or_none() if impl == "torch" else None
    if impl == "torch":
        if torch is None:
            print(json.dumps({}))
            return
        torch.set_num_threads(ARGS.threads)
    reps = 5 if ARGS.quick else 21
    if impl == "cells":
        reps = max(3, reps // 4)
    out = {}
    for T, H in SHAPES:
        for kind in KINDS:
            step = torch_step(torch, kind, T, H) if impl == "torch" else \
                ours_step(kind, T, H, impl == "fused")
            ms = time_median(step, reps, warmup=2) * 1e3  # timed before any memory tracing
            peak = torch_peak_mb(torch, step) if impl == "torch" else numpy_peak_mb(step)
            out[f"{kind}/{T}/{H}"] = {"ms": ms, "peak": peak}
    print(json.dumps(out))


def run_worker(impl: str) -> dict:
    import json
    import subprocess

    cmd = [sys.executable, os.path.abspath(__file__), "--worker", impl,
           "--threads", str(ARGS.threads)] + (["--quick"] if ARGS.quick else [])
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    if ARGS.worker:
        worker(ARGS.worker)
        return
    runs: dict[str, list[dict]] = {"fused": [], "torch": [], "cells": []}
    for r in range(ARGS.rounds):
        for impl in ("fused", "torch") if r else ("fused", "torch", "cells"):
            runs[impl].append(run_worker(impl))
            print(f"  round {r + 1}: {impl} done", flush=True)
    rows = []
    for T, H in SHAPES:
        for kind in KINDS:
            key = f"{kind}/{T}/{H}"
            row = {"layer": kind, "seq": T, "hidden": H}
            for impl in ("fused", "torch", "cells"):
                got = [run[key] for run in runs[impl] if key in run]
                if got:
                    row[f"{impl}_ms"] = min(g["ms"] for g in got)
                    row[f"{impl}_peak_MB"] = got[0]["peak"]
            if "torch_ms" in row:
                row["torch/fused"] = row["torch_ms"] / row["fused_ms"]
            row["cells/fused"] = row["cells_ms"] / row["fused_ms"]
            rows.append(row)
    print(f"\nOne training step (forward + backward), batch {BATCH}, input {INPUT}, float32, "
          f"{ARGS.threads} threads; each implementation in its own process, best of "
          f"{ARGS.rounds} per-process medians (ratios > 1: fused is faster)\n")
    print_table(rows, ["layer", "seq", "hidden", "fused_ms", "torch_ms", "cells_ms",
                       "torch/fused", "cells/fused", "fused_peak_MB", "torch_peak_MB",
                       "cells_peak_MB"])
    name = "bench_rnn" if ARGS.threads == 2 else f"bench_rnn_{ARGS.threads}thread"
    write_results(name, rows, {"threads": ARGS.threads, "batch": BATCH, "input": INPUT,
                               "quick": ARGS.quick, "rounds": ARGS.rounds})


if __name__ == "__main__":
    main()
