"""Recurrent layers: one training step, fused Numba kernels vs composed cells vs PyTorch CPU.

One step = forward, loss = mean(output**2), backward (gradients of every parameter), float32.
Sizes: batch 32, input 64, and (seq 64, hidden 128) and (seq 256, hidden 32), for LSTM, GRU and
RNN (tanh). PyTorch runs in the same process with ``torch.set_num_threads(THREADS)``; numba and
the BLAS get the same thread count. Peak memory is the peak of numpy allocations during one
step (tracemalloc) for tinyclipnn and of the CPU allocator (profiler) for PyTorch.

    python benchmarks/bench_rnn.py [--quick] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys

_p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_p.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
_p.add_argument("--threads", type=int, default=2, help="threads for PyTorch, numba and BLAS")
ARGS = _p.parse_args()
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = str(ARGS.threads)  # before numpy / numba / torch are imported

import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _harness import print_table, time_interleaved, time_median, torch_or_none, write_results  # noqa: E402

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


def main() -> None:
    import numba

    torch = torch_or_none()
    if torch is not None:
        torch.set_num_threads(ARGS.threads)
    numba.set_num_threads(min(ARGS.threads, numba.config.NUMBA_NUM_THREADS))
    reps = 5 if ARGS.quick else 21
    rows = []
    for T, H in SHAPES:
        for kind in KINDS:
            fused = ours_step(kind, T, H, True)
            composed = ours_step(kind, T, H, False)
            row = {"layer": kind, "seq": T, "hidden": H}
            cands = {"fused": fused}
            if torch is not None:
                cands["torch"] = torch_step(torch, kind, T, H)
            times = time_interleaved(cands, reps, warmup=2)  # fused and torch alternate
            row["fused_ms"] = times["fused"]["median"] * 1e3
            row["fused_min_ms"] = times["fused"]["min"] * 1e3
            row["cells_ms"] = time_median(composed, max(3, reps // 4), warmup=1) * 1e3
            row["fused_peak_MB"] = numpy_peak_mb(fused)
            row["cells_peak_MB"] = numpy_peak_mb(composed)
            if torch is not None:
                row["torch_ms"] = times["torch"]["median"] * 1e3
                row["torch_min_ms"] = times["torch"]["min"] * 1e3
                row["torch_peak_MB"] = torch_peak_mb(torch, cands["torch"])
                row["torch/fused"] = row["torch_ms"] / row["fused_ms"]
                row["torch/fused (min)"] = row["torch_min_ms"] / row["fused_min_ms"]
            row["cells/fused"] = row["cells_ms"] / row["fused_ms"]
            rows.append(row)
            print(f"  {kind} seq={T} hidden={H}: fused {row['fused_ms']:.2f} ms"
                  + (f", torch {row['torch_ms']:.2f} ms" if "torch_ms" in row else ""),
                  flush=True)
    print(f"\nOne training step (forward + backward), batch {BATCH}, input {INPUT}, float32, "
          f"{ARGS.threads} threads; median ms, fused and torch timed alternately (ratios > 1: fused is faster)\n")
    print_table(rows, ["layer", "seq", "hidden", "fused_ms", "torch_ms", "cells_ms",
                       "torch/fused", "torch/fused (min)", "cells/fused", "fused_peak_MB", "torch_peak_MB",
                       "cells_peak_MB"])
    name = "bench_rnn" if ARGS.threads == 2 else f"bench_rnn_{ARGS.threads}thread"
    write_results(name, rows, {"threads": ARGS.threads, "batch": BATCH, "input": INPUT,
                                      "quick": ARGS.quick})


if __name__ == "__main__":
    main()
