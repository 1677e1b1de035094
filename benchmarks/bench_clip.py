"""Gradient clipping benchmark (issues 4 and 10): tinyclipnn vs PyTorch CPU, the numpy
reference and the memory-bandwidth bound, each implementation in its own process.

Cases: (a) one 32M-element float32 gradient, global-norm clip, clipping active; (b) 1,000
float32 tensors of 16..12,000 elements, as a list and as a GradBuffer, against PyTorch
``foreach``; (c) value clipping on (b); (e) ``LossScaler.unscale_and_clip_`` against PyTorch's
``GradScaler.unscale_`` + ``clip_grad_norm_`` on (a); (f) float16 and bfloat16 32M global-norm
clip; (d) cold start. The bound is one read pass plus one read/write pass over the same bytes
(best of a plain Numba loop and numpy), measured in its own process in the same run and in the
same way as the implementations: each sample on freshly restored data (the "warm" bound, with
the data left as the previous pass left it, is kept in the JSON for comparison).
Implementations run in separate worker processes, alternating over ``--rounds`` rounds (the
best per-round median is kept): thread pools left spinning by one library slow the other.

    python benchmarks/bench_clip.py [--quick] [--rounds 3] [--threads 2] [--cases abcdef]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

_p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_p.add_argument("--quick", action="store_true", help="small sizes, few repeats (a smoke run)")
_p.add_argument("--rounds", type=int, default=3)
_p.add_argument("--threads", type=int, default=2)
_p.add_argument("--cases", default="abcdef", help="which cases to run, e.g. 'f' (default: all)")
_p.add_argument("--worker", help=argparse.SUPPRESS)
ARGS = _p.parse_args()
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = str(ARGS.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _harness import print_table, time_median, torch_or_none, write_results  # noqa: E402

N_BIG = 4_000_000 if ARGS.quick else 32_000_000
N_TENSORS = 200 if ARGS.quick else 1000
REPEATS = 5 if ARGS.quick else 11
IMPLS = ["bound", "tinyclipnn", "torch", "numpy"]


def want(cases: str) -> bool:
    """Whether any of ``cases`` was selected with ``--cases``."""
    return any(c in ARGS.cases for c in cases)


def mixed(rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.standard_normal(int(s)).astype(np.float32)
            for s in rng.integers(16, 12_001, N_TENSORS)]


def big(dtype=np.float32) -> np.ndarray:
    x = np.random.default_rng(0).standard_normal(N_BIG)  # norm ~5,700 > 1: clipping active
    if dtype == "bfloat16":
        import ml_dtypes

        return x.astype(ml_dtypes.bfloat16)
    return x.astype(dtype)


def timed(fn, arrays: list, srcs: list, repeats: int = REPEATS) -> float:
    """Median seconds of ``fn()``, each sample on freshly restored gradients."""
    return time_median(fn, repeats, setup=lambda: [np.copyto(a, s) for a, s in
                                                    zip(arrays, srcs, strict=True)])


# --- workers: each prints one JSON object {case: seconds} -------------------------------------

def work_bound() -> dict:
    from numba import njit, prange

    @njit(parallel=True, fastmath=True)
    def read(x):
        s = np.float32(0.0)
        for i in prange(x.size):
            s += x[i]
        return s

    @njit(parallel=True)
    def rw(x, c):
        for i in prange(x.size):
            x[i] *= c

    def bound(src: np.ndarray, restore: bool = True) -> tuple[float, float]:
        """(read pass, read/write pass) seconds over a copy of ``src``; with ``restore`` each
        sample starts from freshly restored data, as the implementations' samples do (the
        restore leaves the cache full of dirty lines, which every pass then pays for)."""
        x = src.copy()
        one = x.dtype.type(1.0)
        reps = {"repeats": REPEATS, "setup": (lambda: np.copyto(x, src)) if restore else None}
        r = min(time_median(lambda: read(x), **reps), time_median(lambda: x.sum(), **reps))
        w = min(time_median(lambda: rw(x, one), **reps),
                time_median(lambda: np.multiply(x, one, out=x), **reps))
        return r, w

    out = {}
    srcs = {}
    if want("ae"):
        srcs["a"] = big()
    if want("bc"):
        srcs["b"] = np.concatenate(mixed(np.random.default_rng(1)))
    if want("f"):
        srcs["f16"] = big()[: N_BIG // 2]  # the bytes of a 16-bit gradient of N_BIG elements
    for key, src in srcs.items():
        r, w = bound(src)
        out[key] = r + w
        r_warm, w_warm = bound(src, restore=False)  # the older, optimistic bound: for the record
        out[key + " warm"] = r_warm + w_warm
        if key == "b":
            out["c"], out["c warm"] = w, w_warm
    for key, same in (("e", "a"), ("bf16", "f16")):
        if same in out:
            out[key], out[key + " warm"] = out[same], out[same + " warm"]
    return out


def work_tinyclipnn() -> dict:
    import tinyclipnn.clip as C

    out = {}
    if want("ae"):
        src = big()
        g = src.copy()
        out["a"] = timed(lambda: C.clip_grad_norm_(g, 1.0), [g], [src])
        scaler = C.LossScaler(init_scale=1024.0)
        out["e"] = timed(lambda: scaler.unscale_and_clip_([g], 1e-3), [g], [src])
    if want("bc"):
        srcs = mixed(np.random.default_rng(1))
        ps = [SimpleNamespace(data=s, grad=s.copy()) for s in srcs]
        bps = [SimpleNamespace(data=s, grad=s.copy()) for s in srcs]
        buf = C.GradBuffer(bps)
        grads = [p.grad for p in ps]
        views = [p.grad for p in bps]
        out["b list"] = timed(lambda: C.clip_grad_norm_(ps, 1.0), grads, srcs)
        out["b GradBuffer"] = timed(lambda: C.clip_grad_norm_(buf, 1.0), views, srcs)
        out["c list"] = timed(lambda: C.clip_grad_value_(ps, 0.5), grads, srcs)
        out["c GradBuffer"] = timed(lambda: C.clip_grad_value_(buf, 0.5), views, srcs)
    for key, dtype in (("f16", np.float16), ("bf16", "bfloat16")) if want("f") else ():
        try:
            src = big(dtype)
        except ImportError:
            continue
        g = src.copy()
        out[key] = timed(lambda g=g: C.clip_grad_norm_(g, 1.0), [g], [src])
    return out


def work_numpy() -> dict:
    import tinyclipnn.clip as C

    if not want("ab"):
        return {}
    src = big()
    g = src.copy()
    srcs = mixed(np.random.default_rng(1))
    ps = [SimpleNamespace(data=s, grad=s.copy()) for s in srcs]
    grads = [p.grad for p in ps]
    return {"a": timed(lambda: C.clip_grad_norm_(g, 1.0, backend="numpy"), [g], [src], 3),
            "b list": timed(lambda: C.clip_grad_norm_(ps, 1.0, backend="numpy"), grads, srcs, 3)}


def work_torch() -> dict:
    torch = torch_or_none()
    if torch is None or not want("abce"):
        return {}
    torch.set_num_threads(ARGS.threads)
    tu = torch.nn.utils
    src = big()
    p = torch.nn.Parameter(torch.from_numpy(src.copy()))
    g = src.copy()
    p.grad = torch.from_numpy(g)
    out = {"a": timed(lambda: tu.clip_grad_norm_([p], 1.0), [g], [src])}
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    opt = torch.optim.SGD([p], lr=0.0)

    def scaled_clip():
        scaler.scale(torch.ones(()))  # GradScaler sets up its state lazily here
        scaler.unscale_(opt)
        tu.clip_grad_norm_([p], 1e-3)
        scaler._per_optimizer_states.clear()  # as update() would, without the step

    out["e"] = timed(scaled_clip, [g], [src])
    srcs = mixed(np.random.default_rng(1))
    tps, arrs = [], []
    for s in srcs:
        t = torch.nn.Parameter(torch.from_numpy(s.copy()))
        a = s.copy()
        t.grad = torch.from_numpy(a)
        tps.append(t)
        arrs.append(a)
    out["b foreach"] = timed(lambda: tu.clip_grad_norm_(tps, 1.0, foreach=True), arrs, srcs)
    out["c foreach"] = timed(lambda: tu.clip_grad_value_(tps, 0.5, foreach=True), arrs, srcs)
    return out


COLD = """
import time
t0 = time.perf_counter()
import tinyclipnn
t1 = time.perf_counter()
import numpy as np
import tinyclipnn.clip as C
g = [np.ones(1000, np.float32), np.ones(10, np.float32)]
t2 = time.perf_counter()
C.clip_grad_norm_(g, 1.0)
t3 = time.perf_counter()
print(t1 - t0, t3 - t2)
"""


def cold_start(runs: int) -> dict:
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root))
    cmd = [sys.executable, "-c", COLD]
    subprocess.run(cmd, cwd=root, check=True, capture_output=True, env=env)  # warm the cache
    outs = [subprocess.run(cmd, cwd=root, check=True, capture_output=True, text=True,
                           env=env).stdout for _ in range(runs)]
    imp, first = np.median([[float(v) for v in o.split()] for o in outs], axis=0)
    return {"import_s": float(imp), "first_call_s": float(first)}


def run_worker(impl: str) -> dict:
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root))
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", impl,
           "--threads", str(ARGS.threads), "--cases", ARGS.cases] + (["--quick"] if ARGS.quick else [])
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if res.returncode != 0:
        raise RuntimeError(f"worker {impl} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


# --- report --------------------------------------------------------------------------------

CASES = [  # (case, label, tinyclipnn key, torch key, bound key, bytes moved per element)
    ("a", f"a: {N_BIG / 1e6:.0f}M float32 clip_grad_norm_", "a", "a", "a"),
    ("b", f"b: {N_TENSORS} tensors, list", "b list", "b foreach", "b"),
    ("b", f"b: {N_TENSORS} tensors, GradBuffer", "b GradBuffer", "b foreach", "b"),
    ("c", f"c: {N_TENSORS} tensors value, list", "c list", "c foreach", "c"),
    ("c", f"c: {N_TENSORS} tensors value, GradBuffer", "c GradBuffer", "c foreach", "c"),
    ("e", f"e: LossScaler.unscale_and_clip_ {N_BIG / 1e6:.0f}M", "e", "e", "e"),
    ("f16", f"f: {N_BIG / 1e6:.0f}M float16 clip_grad_norm_", "f16", None, "f16"),
    ("bf16", f"f: {N_BIG / 1e6:.0f}M bfloat16 clip_grad_norm_", "bf16", None, "bf16"),
]
GOALS = [  # (label, tinyclipnn key, against, "bound"/"torch", target, is_upper_bound)
    ("a: time / bound", "a", "a", "bound", 1.25, True),
    ("a: torch / tinyclipnn", "a", "a", "torch", 1.5, False),
    ("b: torch foreach / list", "b list", "b foreach", "torch", 3.0, False),
    ("b: torch foreach / GradBuffer", "b GradBuffer", "b foreach", "torch", 5.0, False),
    ("b: GradBuffer / bound", "b GradBuffer", "b", "bound", 1.5, True),
    ("e: torch unscale_+clip / LossScaler", "e", "e", "torch", 2.0, False),
    ("f: float16 / bound", "f16", "f16", "bound", 1.5, True),
    ("f: bfloat16 / bound", "bf16", "bf16", "bound", 1.5, True),
]


def best(runs: list[dict], key: str | None) -> float | None:
    vals = [r[key] for r in runs if key is not None and key in r]
    return min(vals) if vals else None


def paired_ratio(ours: list[dict], theirs: list[dict], key: str, other: str,
                 upper: bool) -> float | None:
    """Median over rounds of the ratio within each round (ours / theirs for an upper bound,
    theirs / ours otherwise). The processes of one round run back to back, so a machine whose
    speed drifts between rounds (a shared VM) moves both sides of each ratio alike."""
    vals = [(a[key] / b[other]) if upper else (b[other] / a[key])
            for a, b in zip(ours, theirs, strict=True) if key in a and other in b]
    return statistics.median(vals) if vals else None


def machine_extra() -> dict:
    flags = []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    flags = sorted(f for f in have if f.startswith(("avx", "sse4", "fma", "f16c")))
                    break
    except OSError:
        pass
    blas = None
    try:
        from threadpoolctl import threadpool_info

        blas = [{k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                for i in threadpool_info() if i.get("user_api") == "blas"]
    except Exception:
        pass
    return {"simd_flags": flags, "blas": blas, "threads": ARGS.threads}


def main() -> None:
    if ARGS.worker:
        print(json.dumps(globals()[f"work_{ARGS.worker}"]()))
        return
    runs: dict[str, list[dict]] = {k: [] for k in IMPLS}
    for r in range(ARGS.rounds):
        for impl in IMPLS if r == 0 else IMPLS[:3]:  # the slow numpy reference runs once
            runs[impl].append(run_worker(impl))
            print(f"  round {r + 1}: {impl} done", flush=True)
    rows = []
    for _, label, ours, theirs, bkey in CASES:
        t, tt, b = best(runs["tinyclipnn"], ours), best(runs["torch"], theirs), \
            best(runs["bound"], bkey)
        if t is None:
            continue
        rows.append({"case": label, "tinyclipnn ms": t * 1e3,
                     "torch ms": tt * 1e3 if tt else None,
                     "numpy ref ms": (best(runs["numpy"], ours) or 0) * 1e3 or None,
                     "bound ms": b * 1e3 if b else None, "x bound": t / b if b else None,
                     "torch / tinyclipnn": tt / t if tt else None})
    goals = []
    for label, ours, other, kind, target, upper in GOALS:
        v = paired_ratio(runs["tinyclipnn"], runs[kind], ours, other, upper)
        t, o = best(runs["tinyclipnn"], ours), best(runs[kind], other)
        if v is None or t is None or o is None:
            continue
        goals.append({"goal": label, "value": round(v, 3),
                      "best-of ratio": round(t / o if upper else o / t, 3),
                      "target": f"{'<=' if upper else '>='} {target}",
                      "met": v <= target if upper else v >= target})
    cold = cold_start(3 if ARGS.quick else 5) if want("d") else {}
    print(f"\nmedian of {REPEATS} per process, best of {ARGS.rounds} processes per "
          f"implementation, {ARGS.threads} threads\n")
    print_table(rows, ["case", "tinyclipnn ms", "torch ms", "numpy ref ms", "bound ms",
                       "x bound", "torch / tinyclipnn"])
    print()
    print("goals: value = median over rounds of each round's ratio (see paired_ratio)")
    print_table(goals, ["goal", "value", "best-of ratio", "target", "met"])
    if cold:
        print(f"\ncold start: import {cold['import_s'] * 1e3:.0f} ms, first clip_grad_norm_ "
              f"{cold['first_call_s'] * 1e3:.0f} ms")
    name = "bench_clip_quick" if ARGS.quick else "bench_clip"
    write_results(name if ARGS.cases == "abcdef" else f"{name}_{ARGS.cases}", rows,
                  {"goals": goals, "cold_start": cold, "raw": runs, **machine_extra(),
                   "note": "each implementation in its own process"})


if __name__ == "__main__":
    main()
