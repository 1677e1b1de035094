"""``tinyclipnn reproduce pascanu``: Pascanu et al. (2013)'s Figure 7 experiment as a sweep.

The grid is tasks x lengths x methods x seeds, one `pascanu.train_cell` per point, run by
`lab.sweep` (local processes, or Dask), so an interrupted reproduction resumes where it stopped.
Budgets: ``quick`` (minutes on 2 cores: a smoke test of the whole pipeline, nothing gets solved),
``session`` (10,000 steps a run: what a few hours on a laptop allow) and ``paper`` (the authors'
caps: a test every 20 steps on 10,000 sequences, up to 5M steps a run; a cluster job).
Output in ``out``: ``results.csv/json`` (one row per run), ``summary.json`` (success rate per
task, length and method beside the paper's) and ``pascanu.png``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .metrics import to_jsonable
from .pascanu import METHODS
from .plotting import COLORS, get_pyplot, safe_plot, save_figure
from .sweep import atomic_write, collect_sweep, run_sweep

TASK_NAMES = ("temporal_order", "addition", "multiplication", "temporal_order_3bit",
              "random_permutation", "noiseless_memorization")
BUDGETS: dict[str, dict[str, Any]] = {
    "quick": {"tasks": ("temporal_order", "addition"), "lengths": (50,), "seeds": 1,
              "cell": {"max_steps": 200, "check_every": 100, "n_check": 500}},
    "session": {"tasks": ("temporal_order", "addition"), "lengths": (50, 100), "seeds": 3,
                "cell": {"max_steps": 10_000, "check_every": 200, "n_check": 1000}},
    "paper": {"tasks": TASK_NAMES, "lengths": (50, 100, 150, 200), "seeds": 5,
              "cell": {"max_steps": 5_000_000, "check_every": 20, "n_check": 10_000}},
}
# What the paper reports, quoted rather than read off its bar chart from memory: Fig. 7 is the
# success rate on temporal order against sequence length (5 runs per bar); the other tasks are
# reported in the text.
PAPER_FIGURE7 = ("Pascanu et al. 2013: Fig. 7 gives the success rate on temporal order against "
                 "sequence length (5 runs per bar; read the rates from the paper). On the other "
                 "tasks SGD-CR succeeded in all 5 runs, except random permutation (2 of 5), with "
                 "one model trained on lengths 50-200")


def grid(budget: str = "quick", tasks: list[str] | None = None, lengths: list[int] | None = None,
         methods: list[str] | None = None, seeds: int | None = None,
         max_steps: int | None = None, max_length: int | None = None) -> list[dict]:
    """The run configurations of a reproduction (defaults from ``budget``); ``max_length``:
    train each run on lengths drawn from [T, max_length) instead of T alone."""
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {', '.join(BUDGETS)}; got {budget!r}")
    b = BUDGETS[budget]
    from ..data import get_task

    tasks = [get_task(t).name for t in (tasks or b["tasks"])]
    methods = list(methods or METHODS)
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise ValueError(f"methods must be among {', '.join(METHODS)}; got {bad}")
    lengths = [int(T) for T in (lengths or b["lengths"])]
    if any(T < 10 for T in lengths):
        raise ValueError(f"lengths must be >= 10, got {lengths}")
    n_seeds = int(b["seeds"] if seeds is None else seeds)
    if n_seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    cell = dict(b["cell"])
    if max_steps is not None:
        if int(max_steps) < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        cell["max_steps"] = int(max_steps)
    if max_length is not None:
        if any(int(max_length) <= T for T in lengths):
            raise ValueError(f"max_length must exceed every length, got {max_length} for "
                             f"lengths {lengths}")
        cell["max_length"] = int(max_length)
    # seeds vary slowest: a partial run has every (task, length, method) at equal depth
    return [{"task": t, "length": T, "method": m, "seed": s, **cell}
            for s in range(n_seeds) for t in tasks for T in lengths for m in methods]


def summarize(rows: list[dict]) -> dict:
    """Success rate (solved / finished runs) per task, length and method; runs not finished
    (not run, failed) are counted apart, never as failures."""
    out: dict = {}
    for r in rows:
        key = (r["task"], int(r["length"]), r["method"])
        e = out.setdefault(key, {"runs": 0, "solved": 0, "diverged": 0, "not_finished": 0,
                                 "steps": [], "steps_to_solve": [], "best_error": [],
                                 "seconds": 0.0})
        if r.get("status") != "done":
            e["not_finished"] += 1
            continue
        e["runs"] += 1
        e["solved"] += bool(r["solved"])
        e["diverged"] += bool(r["diverged"])
        e["steps"].append(int(r["steps"]))
        e["best_error"].append(float(r["best_error"]))
        e["seconds"] += float(r["seconds"])
        if r["solved"]:
            e["steps_to_solve"].append(int(r["steps"]))
    for e in out.values():
        e["success_rate"] = e["solved"] / e["runs"] if e["runs"] else None
    return out


def table_lines(summary: dict) -> list[str]:
    from .demos._common import table

    rows = []
    for (task, T, m), e in sorted(summary.items()):
        rate = "-" if e["success_rate"] is None else f"{e['solved']}/{e['runs']}"
        rows.append([task, T, m, rate, e["diverged"], e["not_finished"],
                     max(e["steps"]) if e["steps"] else 0,
                     f"{100 * min(e['best_error']):.1f}%" if e["best_error"] else "-",
                     f"{e['seconds'] / 3600:.2f}"])
    return table(["task", "T", "method", "solved", "diverged", "not run", "steps/run",
                  "best err", "hours"], rows)


@safe_plot
def plot(out: Path, summary: dict) -> Path | None:
    plt = get_pyplot()
    if plt is None:
        return None
    tasks = sorted({k[0] for k in summary})
    lengths = sorted({k[1] for k in summary})
    methods = [m for m in METHODS if any(k[2] == m for k in summary)]
    colors = [COLORS["none"], COLORS["clip"], COLORS["alt"], COLORS["extra"]]
    fig, axes = plt.subplots(2, len(tasks), figsize=(4.2 * len(tasks), 6.8), squeeze=False)
    x = np.arange(len(lengths))
    w = 0.8 / max(1, len(methods))
    for ax, task in zip(axes[1], tasks, strict=True):  # best test error of every finished run
        for j, m in enumerate(methods):
            for i, T in enumerate(lengths):
                e = summary.get((task, T, m))
                errs = 100 * np.asarray(e["best_error"] if e else [], float)
                xs = np.full(len(errs), x[i] + (j - (len(methods) - 1) / 2) * w)
                ax.plot(xs, errs, "o", color=colors[j % 4], ms=4,
                        label=m if i == 0 else None)
        ax.axhline(1, color="k", ls="--", lw=1, label="solved: < 1%")
        ax.set(xticks=x, xticklabels=[f"T={T}" for T in lengths], ylim=(0, 100),
               xlim=(-0.5, len(lengths) - 0.5), ylabel="best test error of each run (%)",
               title=task.replace("_", " "))
        ax.grid(alpha=0.3, axis="y", lw=0.5)
    axes[1][0].legend(fontsize=7, loc="upper right")
    for ax, task in zip(axes[0], tasks, strict=True):
        for j, m in enumerate(methods):
            es = [summary.get((task, T, m)) for T in lengths]
            h = [100 * (e["success_rate"] or 0) if e else 0 for e in es]
            bars = ax.bar(x + (j - (len(methods) - 1) / 2) * w, h, w * 0.95,
                          color=colors[j % 4], label=m)
            for b, e in zip(bars, es, strict=True):
                lbl = "n/a" if not e or not e["runs"] else f"{e['solved']}/{e['runs']}"
                ax.text(b.get_x() + b.get_width() / 2, b.get_height() + 2, lbl, ha="center",
                        fontsize=6, rotation=90)
        ax.set(xticks=x, xticklabels=[f"T={T}" for T in lengths], ylim=(0, 119),
               title=task.replace("_", " "), ylabel="% of runs solved (< 1% errors)")
        ax.grid(alpha=0.3, axis="y", lw=0.5)
    axes[0][0].legend(fontsize=7, loc="upper right")
    fig.suptitle("Pascanu et al. (2013) pathological tasks, their settings: runs solved "
                 "(top, n/a: not finished) and best test error per run (bottom)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out / "pascanu.png", dpi=80)


def reproduce_pascanu(out: Path | str = "runs/pascanu", budget: str = "quick", *,
                      tasks: list[str] | None = None, lengths: list[int] | None = None,
                      methods: list[str] | None = None, seeds: int | None = None,
                      max_steps: int | None = None, max_length: int | None = None,
                      workers: int | None = None,
                      scheduler: str | None = None, dask_local: int | None = None,
                      checkpoint_every: int = 500, quiet: bool = False,
                      run: bool = True) -> dict:
    """Run (or resume) the grid; write tables, summary and figure; return the summary dict.
    ``run=False``: only report what earlier launches finished (the rest as not run)."""
    from . import pascanu

    out = Path(out)
    configs = grid(budget, tasks, lengths, methods, seeds, max_steps, max_length)
    if run:
        res = run_sweep(pascanu.train_cell, configs, out, workers=workers, scheduler=scheduler,
                        dask_local=dask_local, checkpoint_every=checkpoint_every, quiet=quiet,
                        meta={"experiment": "pascanu2013", "budget": budget,
                              "settings": pascanu.PAPER})
    else:
        res = collect_sweep(configs, out)
    summary = summarize(res.rows)
    lines = table_lines(summary)
    doc = {"budget": budget, "cells": len(configs), "done": res.done, "failed": res.failed,
           "interrupted": res.interrupted, "paper_figure7": PAPER_FIGURE7,
           "settings": pascanu.PAPER, "cell_overrides": BUDGETS[budget]["cell"],
           "results": [{"task": k[0], "length": k[1], "method": k[2],
                        **{f: v for f, v in e.items() if f not in ("steps", "best_error")},
                        "best_error": min(e["best_error"]) if e["best_error"] else None,
                        "steps_per_run": max(e["steps"]) if e["steps"] else 0}
                       for k, e in sorted(summary.items())]}
    atomic_write(out / "summary.json", json.dumps(to_jsonable(doc), indent=1).encode())
    fig = plot(out, summary)
    text = "\n".join([f"pascanu ({budget}): {res.done}/{len(configs)} runs finished"
                      + (" (interrupted: the rest are marked not run)" if res.interrupted
                         else ""), *lines, f"paper: {PAPER_FIGURE7}",
                      f"wrote {out / 'results.csv'}, {out / 'summary.json'}"
                      + (f", {fig}" if fig else "")])
    print(text)
    return doc
