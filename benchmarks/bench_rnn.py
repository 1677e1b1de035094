"""Recurrent layers: fused Numba kernels vs PyTorch CPU, against the machine's own matmul peak.

Cases (float32, input 64):
* training step (forward, loss = mean(out**2), backward) and ``no_grad`` inference, batch 32,
  (seq 64, hidden 128) and (seq 256, hidden 32), for LSTM, GRU and RNN (tanh), in both layouts
  (time-major, and ``batch_first=True`` with a (batch, seq, input) input);
* a larger training step: seq 128, hidden 512, batch 64, 2 layers (time-major).
At each thread count (default 1 and 2), each implementation runs in its own worker process
(a thread pool left spinning by one slowed the other in one process), alternating fused / torch
over ``--rounds`` rounds; each worker reports the median of its repeats, the table the best
worker median. numba, both BLAS and PyTorch get the same thread count. The fused worker also
measures numpy's float32 matmul peak (sgemm 1024^3, best of 5) so each step's achieved GFLOP/s
(matmul FLOPs of the step / its time) stands next to it. Peak memory is the peak of numpy
allocations during one step (tracemalloc) for tinyclipnn and of the CPU allocator (profiler)
for PyTorch. ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE`` are removed from the workers'
environment (they slow a current OpenBLAS); the JSON records which OpenBLAS kernel then ran.
``--isa avx2`` holds every library to AVX2 (`.ci/isa_env.py`'s exports, with a kernel cache of
its own) and the JSON records the ISA each library ran with.

    python benchmarks/bench_rnn.py            # everything, 1 and 2 threads (~8-12 min)
    python benchmarks/bench_rnn.py --quick    # one round, fewer repeats (~3 min): a smoke run
    python benchmarks/bench_rnn.py --threads 2 --rounds 3 --isa avx2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

_p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_p.add_argument("--quick", action="store_true", help="one round, fewer repeats (a smoke run)")
_p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts to run")
_p.add_argument("--rounds", type=int, default=2, help="worker processes per implementation")
_p.add_argument("--isa", default="native", choices=["native", "avx2", "sse4.2"],
                help="hold every library to this instruction set (default: the CPU's own)")
_p.add_argument("--layouts", nargs="+", default=["time", "batch_first"],
                choices=["time", "batch_first"], help="input layouts of the small cases")
_p.add_argument("--worker", choices=["fused", "torch"], help=argparse.SUPPRESS)
ARGS = _p.parse_args()

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _harness import (  # noqa: E402
    cpu_flags,
    library_isa,
    load_average,
    print_table,
    time_median,
    torch_or_none,
    worker_env,
    write_results,
)

INPUT = 64
KINDS = ["LSTM", "GRU", "RNN"]
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
SMALL = [(64, 128, 32, 1), (256, 32, 32, 1)]  # (seq, hidden, batch, layers)
LARGE = (128, 512, 64, 2)
GOALS = {"train": {"LSTM": 1.15, "GRU": 1.6, "RNN": 1.5}, "large": 1.0, "infer": 1.2}


def step_flops(kind: str, T: int, H: int, B: int, L: int, train: bool) -> float:
    """Matmul FLOPs of one step (2 per multiply-add): input projections and recurrent matmuls
    forward; backward adds dh (recurrent), dW_hh, dW_ih and dx (not for layer 0's input)."""
    G = GATES[kind] * H
    total = 0.0
    for layer in range(L):
        I = INPUT if layer == 0 else H
        proj, rec = 2.0 * T * B * I * G, 2.0 * T * B * H * G
        total += proj + rec
        if train:
            total += 2 * rec + proj + (proj if layer else 0.0)
    return total


def _case_key(kind: str, T: int, H: int, B: int, L: int, layout: str = "time") -> str:
    return f"{kind}/{T}/{H}/{B}/{L}" + ("/bf" if layout == "batch_first" else "")


def _cases() -> list[tuple]:
    """(kind, seq, hidden, batch, layers, layout) of every case, small ones in each layout."""
    small = [(k, *s, lay) for lay in ARGS.layouts for s in SMALL for k in KINDS]
    return small + [(k, *LARGE, "time") for k in KINDS]


def _input(T: int, B: int, layout: str) -> np.ndarray:
    x = np.random.default_rng(0).standard_normal((T, B, INPUT), dtype=np.float32)
    return np.ascontiguousarray(x.transpose(1, 0, 2)) if layout == "batch_first" else x


def ours_model(kind: str, T: int, H: int, B: int, L: int, layout: str = "time"):
    import tinyclipnn as tc

    tc.manual_seed(0)
    m = getattr(tc.nn, kind)(INPUT, H, num_layers=L, batch_first=layout == "batch_first")
    x = tc.Tensor(_input(T, B, layout))

    def step() -> None:
        m.zero_grad()
        y, _ = m(x)
        (y * y).mean().backward()

    def infer() -> None:
        with tc.no_grad():
            m(x)

    return step, infer


def torch_model(torch, kind: str, T: int, H: int, B: int, L: int, layout: str = "time"):
    torch.manual_seed(0)
    m = getattr(torch.nn, kind)(INPUT, H, num_layers=L, batch_first=layout == "batch_first")
    x = torch.from_numpy(_input(T, B, layout))

    def step() -> None:
        m.zero_grad()
        y, _ = m(x)
        (y * y).mean().backward()

    def infer() -> None:
        with torch.no_grad():
            m(x)

    return step, infer


def numpy_peak_mb(step) -> float:
    import tracemalloc

    from tinyclipnn.kernels import runtime

    runtime.clear_workspace()  # so the reused scratch buffers are allocated (and counted) in this step
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


def sgemm_peak_gflops() -> float:
    """numpy float32 matmul 1024^3, best of 5 (after one warm-up): the machine's matmul peak."""
    a = np.random.default_rng(0).standard_normal((1024, 1024), dtype=np.float32)
    out = np.empty_like(a)
    np.matmul(a, a, out=out)
    best = min(_timed(lambda: np.matmul(a, a, out=out)) for _ in range(5))
    return 2 * 1024**3 / best / 1e9


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def worker(impl: str) -> None:
    """Time every case for one implementation; print one JSON line of results."""
    threads = ARGS.threads[0]
    out: dict = {}
    if impl == "torch":
        torch = torch_or_none()
        if torch is None:
            print(json.dumps({}))
            return
        torch.set_num_threads(threads)
        make = lambda *c: torch_model(torch, *c)  # noqa: E731
        peak_mb = lambda s: torch_peak_mb(torch, s)  # noqa: E731
        out["_isa"] = library_isa(torch)
    else:  # (starting numba's thread pool in the torch worker slows torch 10x)
        import numba

        from tinyclipnn.kernels.cpu import _cblas

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        isa = library_isa()
        out["_machine"] = {"sgemm_peak_gflops": sgemm_peak_gflops(), "blas": isa["openblas"],
                           "rnn_gemm": _cblas.kernel_name()}
        out["_isa"] = isa
        make, peak_mb = ours_model, numpy_peak_mb
    reps = 5 if ARGS.quick else 11
    for case in _cases():
        large = case[1:5] == LARGE
        step, infer = make(*case)
        r = (2 if ARGS.quick else 3) if large else reps
        res = {"train_ms": time_median(step, r, warmup=1 if large else 2) * 1e3}
        if not large:
            res["infer_ms"] = time_median(infer, reps, warmup=2) * 1e3
        res["peak_MB"] = peak_mb(step)  # after the timing: tracing slows the step
        out[_case_key(*case)] = res
    print(json.dumps(out))


def run_worker(impl: str, threads: int) -> dict:
    env = worker_env(threads, ARGS.isa)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", impl, "--threads", str(threads),
           "--isa", ARGS.isa, "--layouts", *ARGS.layouts]
    res = subprocess.run(cmd + (["--quick"] if ARGS.quick else []), capture_output=True,
                         text=True, env=env)
    if res.returncode:
        raise RuntimeError(f"worker {impl} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _met(ratio: float | None, goal: float) -> str:
    return "" if ratio is None else ("met" if ratio >= goal else "NOT met")


def rows_for(threads: int, runs: dict) -> tuple[list[dict], dict]:
    machine = runs["fused"][0]["_machine"]
    peak = max(r["_machine"]["sgemm_peak_gflops"] for r in runs["fused"])
    rows = []
    for case in _cases():
        key, large = _case_key(*case), case[1:5] == LARGE
        best = {impl: {m: min(r[key][m] for r in runs[impl] if key in r)
                       for m in ("train_ms", "infer_ms") if any(m in r.get(key, {})
                                                              for r in runs[impl])}
                for impl in runs if any(key in r for r in runs[impl])}
        mem = {impl: runs[impl][0][key]["peak_MB"] for impl in best}
        for mode in ("train",) if large else ("train", "infer"):
            ours = best["fused"][f"{mode}_ms"]
            theirs = best.get("torch", {}).get(f"{mode}_ms")
            ratio = theirs / ours if theirs else None
            goal = GOALS["large"] if large else (GOALS["train"][case[0]] if mode == "train"
                                                  else GOALS["infer"])
            gf = step_flops(*case[:5], train=mode == "train") / (ours * 1e-3) / 1e9
            row = {"threads": threads, "step": "train large" if large else mode,
                   "layer": case[0], "layout": case[5], "seq": case[1], "hidden": case[2],
                   "batch": case[3], "layers": case[4], "fused_ms": ours, "torch_ms": theirs,
                   "torch/fused": ratio, "goal": goal, "speed goal": _met(ratio, goal),
                   "fused_GFLOPs": gf, "sgemm_peak_GFLOPs": peak, "% of peak": 100 * gf / peak}
            if mode == "train":
                ours_mb, torch_mb = mem["fused"], mem.get("torch")
                row.update({"fused_peak_MB": ours_mb, "torch_peak_MB": torch_mb,
                            "memory goal": "" if torch_mb is None else
                            ("met" if ours_mb <= torch_mb else "NOT met")})
            rows.append(row)
    return rows, machine


def main() -> None:
    if ARGS.worker:
        worker(ARGS.worker)
        return
    rounds = 1 if ARGS.quick else ARGS.rounds
    all_rows, machines, isa = [], {}, {}
    t0 = time.time()
    load_before = load_average()
    for threads in ARGS.threads:
        runs: dict[str, list[dict]] = {"fused": [], "torch": []}
        for r in range(rounds):
            for impl in ("fused", "torch") if r % 2 == 0 else ("torch", "fused"):
                got = run_worker(impl, threads)
                if got:
                    isa[impl] = got.pop("_isa")
                    runs[impl].append(got)
                print(f"  {threads} thread(s), round {r + 1}: {impl} done "
                      f"({time.time() - t0:.0f} s, load {load_average()})", flush=True)
        if not runs["torch"]:
            del runs["torch"]
        rows, machines[threads] = rows_for(threads, runs)
        all_rows += rows
    m = machines[ARGS.threads[0]]
    print(f"\nCPU flags: {cpu_flags()}; ISA run: {ARGS.isa}; ours: {isa.get('fused')}; "
          f"torch: {isa.get('torch', {}).get('torch')}; per-step gemm of the fused kernels: "
          f"{m['rnn_gemm']}")
    print(f"Batch 32 (large: 64), input {INPUT}, float32; each implementation in its own process, "
          f"best of {rounds} per-process medians (ratio > 1: fused is faster)\n")
    print_table(all_rows, ["threads", "step", "layer", "layout", "seq", "hidden", "batch",
                           "layers",
                           "fused_ms", "torch_ms", "torch/fused", "goal", "speed goal",
                           "fused_GFLOPs", "sgemm_peak_GFLOPs", "fused_peak_MB", "torch_peak_MB",
                           "memory goal"])
    write_results("bench_rnn" if ARGS.isa == "native" else f"bench_rnn_{ARGS.isa}", all_rows, {
        "threads": ARGS.threads, "input": INPUT, "quick": ARGS.quick, "rounds": rounds,
        "isa_requested": ARGS.isa, "isa_run": isa, "layouts": ARGS.layouts,
        "load_before": load_before, "load_after": load_average(),
        "cpu_flags": cpu_flags(), "blas": {t: mm["blas"] for t, mm in machines.items()},
        "sgemm_peak_gflops": {t: mm["sgemm_peak_gflops"] for t, mm in machines.items()},
        "rnn_gemm": m["rnn_gemm"], "goals": GOALS, "wall_s": time.time() - t0,
        "unset_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}})


if __name__ == "__main__":
    main()
