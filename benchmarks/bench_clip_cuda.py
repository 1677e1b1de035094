"""GPU clipping benchmark (issue 6): tinyclipnn's numba.cuda kernels vs PyTorch, vs copy bandwidth.

Cases, global L2-norm clipping with clipping active (gradients restored before every sample):
  (a) one 256M-element float32 buffer: tinyclipnn vs ``torch.nn.utils.clip_grad_norm_`` (foreach)
      on the same device, and vs the device-to-device copy bandwidth measured in the same run
      (bytes counted: clip = read (norm) + read + write (scale); copy = read + write);
      goal >= 85% of copy bandwidth.
  (b) 2,000 tensors of mixed sizes: a device ``GradBuffer`` (one launch per pass) vs torch's
      foreach path on 2,000 separate tensors; goal >= 3x faster. Also tinyclipnn on the 2,000
      separate torch tensors (one launch per tensor per pass) for reference.

    python benchmarks/bench_clip_cuda.py [--quick] [--repeats N]

Needs a CUDA GPU (exits with a message otherwise). ``--quick`` uses tiny sizes; with
``NUMBA_ENABLE_CUDASIM=1`` it checks the benchmark's logic in numba's simulator (timings are
meaningless there and go to ``clip_cuda_quick.json``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _harness import print_table, time_median, torch_or_none, write_results  # noqa: E402

from tinyclipnn.kernels.cuda import _runtime  # noqa: E402


def _torch_cuda():
    torch = torch_or_none()
    return torch if torch is not None and torch.cuda.is_available() else None


def _timer(cuda, torch, repeats):
    def sync():
        cuda.synchronize()
        if torch is not None:
            torch.cuda.synchronize()

    def timed(fn, setup=None):
        def run():
            fn()
            sync()

        def prep():
            if setup is not None:
                setup()
            sync()

        return time_median(run, repeats, setup=prep)

    return timed


def case_a(n, timed, cuda, torch, C, rows):
    rng = np.random.default_rng(0)
    host = (rng.standard_normal(n) * 10).astype(np.float32)
    pristine = cuda.to_device(host)
    work = cuda.device_array_like(pristine)
    buf = SimpleNamespace(grad=work)  # one device gradient
    nbytes = host.nbytes
    t_copy = timed(lambda: work.copy_to_device(pristine))
    if torch is not None:
        ts, td = torch.empty(n, device="cuda"), torch.empty(n, device="cuda")
        t_copy = min(t_copy, timed(lambda: td.copy_(ts)))
    copy_bw = 2 * nbytes / t_copy
    restore = lambda: work.copy_to_device(pristine)  # noqa: E731
    t_ours = timed(lambda: C.clip_grad_norm_([buf], 1.0, backend="cuda"), restore)
    bw = 3 * nbytes / t_ours
    rows.append(dict(case=f"(a) 1 x {n:,} f32", impl="device copy (read+write)",
                     ms=t_copy * 1e3, GBps=copy_bw / 1e9, of_copy_bw=1.0))
    rows.append(dict(case=f"(a) 1 x {n:,} f32", impl="tinyclipnn cuda",
                     ms=t_ours * 1e3, GBps=bw / 1e9, of_copy_bw=bw / copy_bw))
    if torch is not None:
        p = torch.nn.Parameter(torch.empty(n, device="cuda"))
        src = torch.as_tensor(host, device="cuda")
        p.grad = src.clone()
        t_t = timed(lambda: torch.nn.utils.clip_grad_norm_([p], 1.0, foreach=True),
                    lambda: p.grad.copy_(src))
        rows.append(dict(case=f"(a) 1 x {n:,} f32", impl="torch clip_grad_norm_ foreach",
                         ms=t_t * 1e3, GBps=3 * nbytes / t_t / 1e9,
                         of_copy_bw=3 * nbytes / t_t / copy_bw))
    return {"a_fraction_of_copy_bw": bw / copy_bw}


def case_b(count, max_size, timed, cuda, torch, C, rows):
    rng = np.random.default_rng(1)
    sizes = [int(s) for s in rng.integers(16, max_size + 1, count)]
    grads = [(rng.standard_normal(s) * 10).astype(np.float32) for s in sizes]
    ps = [SimpleNamespace(data=g, grad=g) for g in grads]
    buf = C.GradBuffer(ps, device="cuda")
    pristine = cuda.to_device(np.concatenate(grads))
    label = f"(b) {count:,} tensors, {sum(sizes):,} f32"
    t_ours = timed(lambda: C.clip_grad_norm_(buf, 1.0), lambda: buf.flat.copy_to_device(pristine))
    rows.append(dict(case=label, impl="tinyclipnn cuda, device GradBuffer", ms=t_ours * 1e3))
    extra = {}
    if torch is not None:
        tp = [torch.nn.Parameter(torch.empty(s, device="cuda")) for s in sizes]
        src = [torch.as_tensor(g, device="cuda") for g in grads]

        def restore():
            for p, s in zip(tp, src, strict=True):
                p.grad.copy_(s)

        for p, s in zip(tp, src, strict=True):
            p.grad = s.clone()
        t_t = timed(lambda: torch.nn.utils.clip_grad_norm_(tp, 1.0, foreach=True), restore)
        rows.append(dict(case=label, impl="torch clip_grad_norm_ foreach", ms=t_t * 1e3))
        t_list = timed(lambda: C.clip_grad_norm_(tp, 1.0), restore)
        rows.append(dict(case=label, impl="tinyclipnn cuda, 2,000 torch tensors", ms=t_list * 1e3))
        extra["b_speedup_vs_torch_foreach"] = t_t / t_ours
        rows[-3]["speedup_vs_torch"] = t_t / t_ours
    return extra


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (checks the logic)")
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args(argv)
    reason = _runtime.unavailable_reason()
    if reason is not None:
        print(f"bench_clip_cuda: skipped, no usable GPU: {reason}", file=sys.stderr)
        return 0
    sim = _runtime.simulator_enabled()
    if sim and not args.quick:
        print("bench_clip_cuda: the CUDA simulator is on; use --quick", file=sys.stderr)
        return 0
    from numba import cuda

    import tinyclipnn.clip as C
    from tinyclipnn.kernels.cuda import _config

    if sim:
        _config.configure(block=8, items=4)
    torch = None if sim else _torch_cuda()
    repeats = args.repeats or (1 if args.quick else 9)
    timed = _timer(cuda, torch, repeats)
    rows: list[dict] = []
    n_a = 2_000 if args.quick else 256 * 2**20
    count, max_size = (20, 200) if args.quick else (2_000, 60_000)
    device = _runtime.describe()
    print(f"device: {device}")
    summary = case_a(n_a, timed, cuda, torch, C, rows)
    summary.update(case_b(count, max_size, timed, cuda, torch, C, rows))
    print_table(rows, ["case", "impl", "ms", "GBps", "of_copy_bw", "speedup_vs_torch"])
    goals = {
        "a_fraction_of_copy_bw >= 0.85": summary["a_fraction_of_copy_bw"] >= 0.85,
        "b_speedup_vs_torch_foreach >= 3": summary.get("b_speedup_vs_torch_foreach", 0) >= 3,
    }
    print("goals:", goals)
    name = "clip_cuda_quick" if args.quick else "clip_cuda"
    gpu = "simulator" if sim else device.split(" on ", 1)[-1]
    write_results(name, rows, {"gpu": gpu, "device": device, "summary": summary, "goals": goals,
                               "torch_cuda": torch is not None})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
