"""Whole training steps of small models: tinyclipnn vs PyTorch CPU, as a user's loop runs them.

A step is: take a batch, forward, loss, ``zero_grad``, backward, global-norm clip at 1.0,
optimizer step (models and settings in `_model_steps`): a char LM with an LSTM and with a GRU
(Embedding(96, 32) -> LSTM/GRU(32, 128, batch_first=True) -> Linear(128, 96), batch 32 x 64),
an MLP 2-64-64-3 (full batch 300, SGD with momentum) and Pascanu et al.'s RNN(6, 50) (seq 100,
batch 20, read-out at the last step), also with their vanishing-gradient penalty
(``vanishing_penalty``, ours only: its cost is reported against our plain step).

Each implementation runs in its own worker process (a thread pool left spinning by one
library slows the other), ``--rounds`` rounds at each thread count, the two alternating in
order (A B, B A, ...). A worker times every model in interleaved blocks of steps (the load of
a shared machine hits all models alike) and reports the median step per model. The table
gives, per model, the median over rounds of each library's step and the median of the
per-round ratios PyTorch / ours (> 1: ours is faster), which cancels load drifts between
rounds. The "first use" rows are cold processes with an empty kernel cache: import, the first
global-norm clip, and the first char-LM (LSTM) training step.

``--isa avx2`` holds every library to AVX2 (the `.ci/isa_env.py` exports, with a kernel cache
of its own); the JSON records the CPU, its SIMD flags and the ISA each library ran with.

    python benchmarks/bench_models.py                # 1 and 2 threads, 3 rounds (~4 min)
    python benchmarks/bench_models.py --quick        # 1 round, fewer steps: a smoke run
    python benchmarks/bench_models.py --rounds 7 --threads 2 --isa avx2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as H  # noqa: E402
import _model_steps as M  # noqa: E402

GOALS = {"charlm_lstm": 1.2, "charlm_gru": 1.2, "mlp": 1.5, "pascanu": 5.0, "pascanu_omega": 5.0}
TORCH_SAME = {"pascanu_omega": "pascanu"}  # PyTorch has no penalty: against its plain step
FIRST_USE_GOALS = {"first_clip_s": 3.0, "first_lstm_step_s": 8.0}
LABELS = {"charlm_lstm": "char LM, LSTM", "charlm_gru": "char LM, GRU",
          "mlp": "MLP 2-64-64-3", "pascanu": "Pascanu RNN(6, 50)",
          "pascanu_omega": "Pascanu RNN + vanishing_penalty"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1 round, fewer steps (a smoke run)")
    p.add_argument("--rounds", type=int, default=3, help="worker processes per implementation "
                   "and thread count (default 3)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--steps", type=int, default=40, help="timed steps per model and worker")
    p.add_argument("--models", nargs="+", default=M.MODELS, choices=M.MODELS)
    p.add_argument("--isa", default="native", choices=["native", "avx2", "sse4.2"],
                   help="hold every library to this instruction set (default: the CPU's own)")
    p.add_argument("--no-first-use", action="store_true", help="skip the cold-start rows")
    p.add_argument("--out", default=None, help="results name (default bench_models[_<isa>])")
    p.add_argument("--worker", choices=["ours", "torch", "first_clip", "first_lstm_step"],
                   help=argparse.SUPPRESS)
    return p.parse_args(argv)


# ------------------------------------------------------------------------------- workers
def time_models(impl: str, models: list[str], steps: int, blocks: int) -> dict:
    """Median step (ms) of each model, timed in ``blocks`` interleaved blocks."""
    make = M.ours if impl == "ours" else M.theirs
    runs = {name: make(name) for name in models}
    for step in runs.values():  # warm-up (the first step compiles kernels on a cold cache)
        for _ in range(5):
            step()
    samples: dict[str, list[float]] = {name: [] for name in models}
    per_block = max(1, steps // blocks)
    for _ in range(blocks):
        for name, step in runs.items():
            for _ in range(per_block):
                t0 = time.perf_counter()
                step()
                samples[name].append(time.perf_counter() - t0)
    return {name: {"median_ms": 1e3 * statistics.median(v), "min_ms": 1e3 * min(v),
                   "steps": len(v)} for name, v in samples.items()}


def first_use(what: str) -> dict:
    """Seconds of a cold process: import, then the first clip or the first char-LM step."""
    t0 = time.perf_counter()
    import numpy as np

    import tinyclipnn as tc

    out = {"import_s": time.perf_counter() - t0}
    if what == "first_clip":
        params = [tc.nn.Parameter(np.ones(s, np.float32)) for s in ((512, 32), (512, 128), (96,))]
        for p in params:
            p.grad = np.ones_like(p.data)
        t1 = time.perf_counter()
        tc.nn.utils.clip_grad_norm_(params, 1.0)
        out["first_clip_s"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        tc.nn.utils.clip_grad_norm_(params, 1.0)
        out["second_clip_s"] = time.perf_counter() - t1
    else:
        step = M.ours("charlm_lstm")
        t1 = time.perf_counter()
        step()
        out["first_lstm_step_s"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        step()
        out["second_lstm_step_s"] = time.perf_counter() - t1
    out["total_s"] = time.perf_counter() - t0
    return out


def worker(args: argparse.Namespace) -> None:
    threads = args.threads[0]
    if args.worker in ("first_clip", "first_lstm_step"):
        print(json.dumps(first_use(args.worker)))
        return
    torch = None
    if args.worker == "torch":
        torch = H.torch_or_none()
        if torch is None:
            print(json.dumps({}))
            return
        torch.set_num_threads(threads)
        models = [m for m in args.models if m in M.TORCH_MODELS]
    else:  # numba's thread pool is never started in the torch worker (it slows torch)
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        models = list(args.models)
    res = time_models(args.worker, models, args.steps, blocks=4)
    res["_isa"] = H.library_isa(torch)
    if args.worker == "ours":
        from tinyclipnn.kernels.cpu import _cblas

        res["_isa"]["rnn_gemm"] = _cblas.kernel_name()
    print(json.dumps(res))


# ------------------------------------------------------------------------------- parent
def run_worker(args: argparse.Namespace, impl: str, threads: int,
               env_extra: dict | None = None) -> dict:
    env = H.worker_env(threads, args.isa)
    env.update(env_extra or {})
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", impl, "--threads",
           str(threads), "--steps", str(args.steps), "--isa", args.isa,
           "--models", *args.models]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if res.returncode:
        raise RuntimeError(f"worker {impl} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def model_rows(threads: int, runs: dict[str, list[dict]]) -> list[dict]:
    rows = []
    ours_runs, torch_runs = runs["ours"], runs.get("torch", [])
    for name in [m for m in M.MODELS if m in ours_runs[0]]:
        ours = [r[name]["median_ms"] for r in ours_runs]
        row = {"threads": threads, "model": LABELS[name], "key": name,
               "ours_ms": statistics.median(ours), "ours_min_ms": min(r[name]["min_ms"]
                                                                      for r in ours_runs),
               "rounds": len(ours)}
        same = TORCH_SAME.get(name, name)
        theirs = [r[same]["median_ms"] for r in torch_runs if same in r]
        if theirs:
            ratios = [t / o for t, o in zip(theirs, ours, strict=False)]
            row.update({"torch_ms": statistics.median(theirs), "torch/ours": statistics.median(
                ratios), "ratio_range": f"{min(ratios):.2f}-{max(ratios):.2f}",
                "goal": GOALS[name]})
            row["goal met"] = "met" if row["torch/ours"] >= GOALS[name] else "NOT met"
        if name == "pascanu_omega" and "pascanu" in ours_runs[0]:
            row["omega_cost_ms"] = statistics.median(
                [r["pascanu_omega"]["median_ms"] - r["pascanu"]["median_ms"] for r in ours_runs])
        rows.append(row)
    return rows


def first_use_rows(args: argparse.Namespace) -> list[dict]:
    """Cold processes (empty kernel cache each): the first clip and the first char-LM step."""
    rows = []
    for what, key in (("first_clip", "first_clip_s"), ("first_lstm_step", "first_lstm_step_s")):
        with tempfile.TemporaryDirectory(prefix="tinyclipnn-cold-") as cache:
            got = run_worker(args, what, max(args.threads), {"NUMBA_CACHE_DIR": cache})
        rows.append({"case": what, **got, "goal_s": FIRST_USE_GOALS[key],
                     "goal met": "met" if got[key] <= FIRST_USE_GOALS[key] else "NOT met",
                     "load_after": H.load_average()})
    return rows


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(args)
        return
    if args.quick:
        args.rounds, args.steps = 1, min(args.steps, 20)
    t0 = time.time()
    load_before = H.load_average()
    print(f"ISA: {args.isa}; CPU flags: {H.cpu_flags()}; load {load_before}", flush=True)
    rows, isa = [], {}
    for threads in args.threads:
        runs: dict[str, list[dict]] = {"ours": [], "torch": []}
        for r in range(args.rounds):
            for impl in ("ours", "torch") if r % 2 == 0 else ("torch", "ours"):
                got = run_worker(args, impl, threads)
                if got:
                    isa[impl] = got.pop("_isa")
                    runs[impl].append(got)
                print(f"  {threads} thread(s), round {r + 1}/{args.rounds}: {impl} done "
                      f"({time.time() - t0:.0f} s, load {H.load_average()})", flush=True)
        if not runs["torch"]:
            del runs["torch"]
        rows += model_rows(threads, runs)
    cold = [] if args.no_first_use else first_use_rows(args)
    print(f"\nCPU: {H._cpu_model()}; flags: {H.cpu_flags()}\nISA run: {args.isa}; ours: "
          f"{isa.get('ours')}; torch: {isa.get('torch')}")
    print(f"Whole training steps, float32; each implementation in its own process; median of "
          f"{args.rounds} per-process medians ({args.steps} steps each); torch/ours > 1: ours "
          f"is faster (median of per-round ratios)\n")
    H.print_table(rows, ["threads", "model", "ours_ms", "torch_ms", "torch/ours", "ratio_range",
                         "goal", "goal met", "omega_cost_ms"])
    if cold:
        print("\nFirst use (cold process, empty kernel cache), seconds:\n")
        H.print_table(cold, ["case", "import_s", "first_clip_s", "second_clip_s",
                             "first_lstm_step_s", "second_lstm_step_s", "goal_s", "goal met"])
    name = args.out or ("bench_models" if args.isa == "native" else f"bench_models_{args.isa}")
    H.write_results(name, rows, {
        "first_use": cold, "isa_requested": args.isa, "isa_run": isa, "cpu_flags": H.cpu_flags(),
        "threads": args.threads, "rounds": args.rounds, "steps": args.steps,
        "quick": args.quick, "goals": GOALS, "first_use_goals": FIRST_USE_GOALS,
        "load_before": load_before, "load_after": H.load_average(),
        "wall_s": time.time() - t0})


if __name__ == "__main__":
    main()
