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
