"""Shared benchmark plumbing: machine info, median timing, a printed table, JSON results.

Scripts run as ``python benchmarks/bench_x.py`` and ``from _harness import ...``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """CPU model, core count, Python and library versions (torch when importable)."""
    import numpy as np

    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
    }
    for mod in ("numba", "torch", "scipy"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:
            info[mod] = None
    return info


def time_median(fn: Callable[[], Any], repeats: int = 7, number: int = 1,
                warmup: int = 1, setup: Callable[[], Any] | None = None) -> float:
    """Median over ``repeats`` of the mean time of ``number`` calls, in seconds.

    ``setup`` (untimed) runs before each warm-up and each timed sample, e.g. to restore
    inputs that ``fn`` modifies in place.
    """
    for _ in range(warmup):
        if setup is not None:
            setup()
        fn()
    samples = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number)
    return statistics.median(samples)


def time_interleaved(fns: dict[str, Callable[[], Any]], repeats: int = 7, number: int = 1,
                     warmup: int = 1) -> dict[str, dict[str, float]]:
    """Time several candidates in alternation (A, B, A, B, ...), so load changes on a shared
    machine hit them alike. Returns ``{name: {"min": s, "median": s}}`` per call, in seconds."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - t0) / number)
    return {k: {"min": min(v), "median": statistics.median(v)} for k, v in samples.items()}


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Print ``rows`` as a Markdown table (the README pastes it); returns the text."""
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]
    text = "\n".join(lines)
    print(text)
    return text


def write_results(name: str, rows: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> str:
    """Write ``benchmarks/results/<name>.json`` with machine info; returns its path."""
    os.makedirs(RESULTS_DIR, exist_ok=True)
    path = os.path.join(RESULTS_DIR, f"{name}.json")
    payload = {"benchmark": name, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
               "machine": machine_info(), "argv": sys.argv[1:], "rows": rows}
    payload.update(extra or {})
    with open(path, "w") as f:
        json.dump(payload, f, indent=2, default=float)
    print(f"wrote {path}")
    return path


def torch_or_none() -> Any:
    """``torch`` when importable (benchmarks compare against it), else None."""
    try:
        import torch
    except Exception:
        return None
    return torch


# --- instruction sets: what the CPU has, what each library ran with, holding them lower -----
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BLAS_TUNING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # a stray one slows a current OpenBLAS


def cpu_flags() -> str:
    """The CPU's SIMD flags (SSE4, AVX*, FMA, AMX) from /proc/cpuinfo ("" elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next(line for line in f if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return ""
    return " ".join(f for f in flags if f.startswith(("sse4", "avx", "fma", "amx")))


def isa_exports(level: str | None) -> dict[str, str]:
    """The environment that holds numba, numpy, OpenBLAS and PyTorch to ``level`` ("avx2",
    "sse4.2"; `.ci/isa_env.py`), or {} for the CPU's own (``None`` / "native")."""
    if level in (None, "native"):
        return {}
    return _isa_env_module().isa_env(level)


def _isa_env_module() -> Any:
    """`.ci/isa_env.py`, loaded as a module (it is a script, not part of the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("isa_env", os.path.join(ROOT, ".ci",
                                                                           "isa_env.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def worker_env(threads: int, level: str | None = None) -> dict[str, str]:
    """Environment of a benchmark worker: ``threads`` for every thread pool, this checkout on
    PYTHONPATH, no stray OpenBLAS tuning, and for a held ``level`` its exports plus a kernel
    cache of its own (``~/.cache/tinyclipnn-bench/<level>``: code compiled for one instruction
    set must not be loaded by a run held to another)."""
    env = {k: v for k, v in os.environ.items() if k not in _BLAS_TUNING}
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = str(threads)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    exports = isa_exports(level)
    if exports:
        env.update(exports)
        env["NUMBA_CACHE_DIR"] = os.path.join(os.path.expanduser("~"), ".cache",
                                              "tinyclipnn-bench", level)
    return env


def _openblas_cores() -> list[str]:
    """Core kernel of each OpenBLAS copy loaded in this process (e.g. "SkylakeX", "Haswell")."""
    return [f"{name}: {core}" for name, core in _isa_env_module().openblas_cores()]


def library_isa(torch: Any = None) -> dict[str, Any]:
    """The instruction set each library runs with in this process: numpy's widest enabled
    dispatch target, numba's target CPU and whether AVX-512 is on, each OpenBLAS copy's core,
    PyTorch's ATen capability (when ``torch`` is given)."""
    import numpy as np

    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # numpy 1.x
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    enabled = [t for t in __cpu_dispatch__ if __cpu_features__.get(t)]
    out: dict[str, Any] = {"numpy": enabled[-1] if enabled else "baseline",
                           "numpy_version": np.__version__}
    try:
        import numba  # noqa: F401  (its config reads NUMBA_CPU_NAME / NUMBA_CPU_FEATURES)
        from llvmlite import binding

        features = os.environ.get("NUMBA_CPU_FEATURES") or binding.get_host_cpu_features(
        ).flatten()
        out["numba"] = (f"{os.environ.get('NUMBA_CPU_NAME') or binding.get_host_cpu_name()}, "
                        f"avx512f {'on' if '+avx512f' in features else 'off'}")
    except ImportError:
        out["numba"] = None
    try:
        import scipy.linalg  # noqa: F401  (loads scipy's OpenBLAS copy, which numba calls)
    except ImportError:
        pass
    out["openblas"] = _openblas_cores()
    if torch is not None:
        out["torch"] = torch.backends.cpu.get_cpu_capability()
        out["torch_version"] = torch.__version__
    return out


def load_average() -> list[float] | None:
    """1, 5 and 15-minute load averages (how busy the machine was), None where unknown."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None
