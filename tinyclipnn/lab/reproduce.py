"""``tinyclipnn reproduce pascanu``: Pascanu et al. (2013)'s pathological-task experiments as a sweep.

The grid is tasks x lengths x methods x seeds, one `pascanu.train_cell` per point, run by
`lab.sweep` (local processes, or Dask), so an interrupted reproduction resumes where it stopped:
run the same command again. Two ways to name a grid:

* a budget (``--budget``): ``quick`` (minutes on 2 cores: a smoke test, nothing gets solved),
  ``session`` (10,000 updates a run), ``paper`` (the authors' caps: a test on 10,000 sequences
  every 20 updates, up to 5M updates a run; a cluster job);
* a part of the full reproduction (``--grid``, `GRIDS`): Figure 7's three panels
  (``fig7-smart``, ``fig7-basic``, ``fig7-sigmoid``), the four ``mixed``-length tasks and
  ``memorisation``, each with its own initialisation, lengths, seeds and update cap.

Output in ``out``: ``results.csv/json`` (one row per run, both success rules with the first
update at which each was met), ``summary.json`` (per bar: runs solved under each rule, runs that
hit the cap unsolved, beside the paper's statement) and ``pascanu.png``.
"""

from __future__ import annotations

import json
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np

from ..data import get_task
from . import pascanu
from .demos._common import table
from .interrupt import deferred
from .metrics import to_jsonable
from .pascanu import INITS, METHODS, PAPER, cadence, check_init
from .plotting import COLORS, get_pyplot, safe_plot, save_figure
from .sweep import atomic_write, collect_sweep, run_sweep

TASK_NAMES = ("temporal_order", "addition", "multiplication", "temporal_order_3bit",
              "random_permutation", "noiseless_memorization")
FIG7_METHODS = ("sgd", "sgd-c", "sgd-cr")  # the paper's MSGD, MSGD-C, MSGD-CR
METHOD_LABELS = {"sgd": "MSGD", "sgd-c": "MSGD-C", "sgd-cr": "MSGD-CR",
                 "sgd-cr-bptt": "MSGD-CR + bptt_clip (ours)"}
BUDGETS: dict[str, dict[str, Any]] = {
    "quick": {"tasks": ("temporal_order", "addition"), "lengths": (50,), "seeds": 1,
              "methods": tuple(METHODS), "init": "smart-tanh",
              "cell": {"max_steps": 200, "check_every": 100, "n_check": 500}},
    "session": {"tasks": ("temporal_order", "addition"), "lengths": (50, 100), "seeds": 3,
                "methods": tuple(METHODS), "init": "smart-tanh",
                "cell": {"max_steps": 10_000, "check_every": 200, "n_check": 1000}},
    "paper": {"tasks": TASK_NAMES, "lengths": (50, 100, 150, 200), "seeds": 5,
              "methods": tuple(METHODS), "init": "smart-tanh",
              "cell": {"max_steps": 5_000_000, "check_every": 20, "n_check": 10_000}},
}
# the test cadence of the `GRIDS`: a screen on 1,000 fresh sequences every 200 updates,
# confirmed on 10,000 (at each test length for mixed-length runs) when it meets a rule
GRID_TESTS = {"check_every": 200, "n_check": 1000, "n_eval": 10_000}
MIXED_TASKS = ("addition", "multiplication", "temporal_order_3bit", "random_permutation")
GRIDS: dict[str, dict[str, Any]] = {
    "fig7-smart": {"tasks": ("temporal_order",), "lengths": (50, 100, 150, 200), "seeds": 5,
                   "methods": FIG7_METHODS, "init": "smart-tanh",
                   "cell": {"max_steps": 200_000, **GRID_TESTS}},
    "fig7-basic": {"tasks": ("temporal_order",), "lengths": (50, 100), "seeds": 3,
                   "methods": FIG7_METHODS, "init": "basic-tanh",
                   "cell": {"max_steps": 100_000, **GRID_TESTS}},
    "fig7-sigmoid": {"tasks": ("temporal_order",), "lengths": (50, 100), "seeds": 3,
                     "methods": FIG7_METHODS, "init": "sigmoid",
                     "cell": {"max_steps": 100_000, **GRID_TESTS}},
    "mixed": {"tasks": MIXED_TASKS, "lengths": (50,), "max_length": 200, "seeds": 3,
              "methods": ("sgd-cr",), "init": "smart-tanh",
              "cell": {"max_steps": 200_000, **GRID_TESTS}},
    "memorisation": {"tasks": ("noiseless_memorization",), "lengths": (50,), "seeds": 3,
                     "methods": ("sgd-cr",), "init": "smart-tanh",
                     "cell": {"max_steps": 200_000, **GRID_TESTS}},
}
# What the paper (ICML 2013 version) states for each part; the bar heights
# of its Figure 7 are a chart, not numbers: read them off the paper.
PAPER_STATEMENTS = {
    "fig7": ("Fig. 7 (temporal order): rate of success of MSGD, MSGD-C and MSGD-CR against the "
             "sequence length, 5 runs per bar, in three panels: sigmoid units, basic tanh, "
             "smart tanh initialisation; alpha fixed at 4; solved: < 1 % wrong of 10,000 fresh "
             "sequences; up to 5M updates"),
    "mixed": ("one MSGD-CR model trained on lengths drawn from 50-200 for addition, "
              "multiplication, 3-bit temporal order and random permutation: 100 % success over "
              "5 runs each, random permutation 2 of 5"),
    "memorisation": "noiseless memorisation: one model per length",
}


def _statement(part: str | None) -> str:
    if part is None:
        return PAPER_STATEMENTS["fig7"]
    return PAPER_STATEMENTS["fig7" if part.startswith("fig7") else part]


def grid(budget: str | None = None, tasks: list[str] | None = None,
         lengths: list[int] | None = None, methods: list[str] | None = None,
         seeds: int | None = None, max_steps: int | None = None, max_length: int | None = None,
         *, part: str | None = None, init: str | None = None,
         alpha: float | None = None) -> list[dict]:
    """The run configurations of a reproduction: defaults from ``budget`` or from the grid
    ``part`` (`GRIDS`; not both), each overridable. ``max_length``: train each run on lengths
    drawn from [T, max_length) instead of T alone (tested at ``PAPER['test_lengths']``)."""
    if part is not None and budget is not None:
        raise ValueError(f"give a budget or a grid part, not both (got budget={budget!r}, "
                         f"part={part!r})")
    if part is not None and part not in GRIDS:
        raise ValueError(f"grid must be one of {', '.join(GRIDS)}; got {part!r}")
    budget = "quick" if part is None and budget is None else budget
    if budget is not None and budget not in BUDGETS:
        raise ValueError(f"budget must be one of {', '.join(BUDGETS)}; got {budget!r}")
    b = GRIDS[part] if part is not None else BUDGETS[budget]
    for name, given in (("tasks", tasks), ("lengths", lengths), ("methods", methods)):
        if given is not None and not len(given):  # [] is not "the default": say so
            raise ValueError(f"{name} must not be empty (None: the grid's {name})")
    tasks = [get_task(t).name for t in (b["tasks"] if tasks is None else tasks)]
    methods = list(b["methods"] if methods is None else methods)
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise ValueError(f"methods must be among {', '.join(METHODS)}; got {bad}")
    lengths = [int(T) for T in (b["lengths"] if lengths is None else lengths)]
    if any(T < 10 for T in lengths):
        raise ValueError(f"lengths must be >= 10, got {lengths}")
    n_seeds = int(b["seeds"] if seeds is None else seeds)
    if n_seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    cell = {"init": check_init(b["init"] if init is None else init),
            "alpha": _alpha(PAPER["alpha"] if alpha is None else alpha), **b["cell"]}
    if max_steps is not None:
        if int(max_steps) < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        cell["max_steps"] = int(max_steps)
    max_length = b.get("max_length") if max_length is None else max_length
    if max_length is not None:
        if any(int(max_length) <= T for T in lengths):
            raise ValueError(f"max_length must exceed every length, got {max_length} for "
                             f"lengths {lengths}")
        cell["max_length"] = int(max_length)
    # seeds vary slowest: a partial run has every (task, length, method) at equal depth
    return [{"task": t, "length": T, "method": m, "seed": s, **cell}
            for s in range(n_seeds) for t in tasks for T in lengths for m in methods]


def _alpha(alpha: Any) -> float:
    if not (isinstance(alpha, (int, float, np.integer, np.floating)) and 0 <= alpha < np.inf):
        raise ValueError(f"alpha must be a finite number >= 0 (the paper's 4, their code's 2), "
                         f"got {alpha!r}")
    return float(alpha)


def _bar(r: dict) -> tuple:
    """The bar a run belongs to: task, initialisation, alpha, training lengths, method."""
    return (r["task"], r.get("init", "smart-tanh"), float(r.get("alpha", 2.0)), int(r["length"]),
            int(r.get("max_length") or 0), r["method"])


def length_label(T: int, max_length: int) -> str:
    return f"{T}-{max_length - 1} (mixed)" if max_length else str(T)


def summarize(rows: list[dict]) -> dict:
    """Per bar (`_bar`): runs finished, solved under the paper's rule (< 1 %) and the code's
    (0 errors), diverged, at the cap without meeting each rule (undecided at this budget: not a
    failure), the first updates at which the rules held; runs not finished (not run, failed,
    interrupted) are counted apart, never as failures."""
    out: dict = {}
    for r in rows:
        e = out.setdefault(_bar(r), {
            "runs": 0, "solved": 0, "solved_code": 0, "diverged": 0, "undecided": 0,
            "undecided_code": 0, "not_finished": 0, "steps": [], "steps_to_solve": [],
            "steps_to_solve_code": [], "best_error": [], "final_errors": [], "seconds": 0.0,
            "cap": int(r.get("max_steps") or 0)})
        if r.get("status") != "done":
            e["not_finished"] += 1
            continue
        paper = bool(r.get("solved_paper", r.get("solved")))
        code = bool(r.get("solved_code", False))
        e["runs"] += 1
        e["solved"] += paper
        e["solved_code"] += code
        e["diverged"] += bool(r["diverged"])
        e["undecided"] += not paper and not r["diverged"]
        e["undecided_code"] += not code and not r["diverged"]
        e["steps"].append(int(r["steps"]))
        e["best_error"].append(float(r["best_error"]))
        e["final_errors"].append(r.get("final_errors") or {})
        e["seconds"] += float(r["seconds"])
        if paper:
            e["steps_to_solve"].append(int(r.get("solved_paper_at") or r["steps"]))
        if code:
            e["steps_to_solve_code"].append(int(r["solved_code_at"]))
    for e in out.values():
        e["success_rate"] = e["solved"] / e["runs"] if e["runs"] else None
        e["success_rate_code"] = e["solved_code"] / e["runs"] if e["runs"] else None
    return out


def verdict(e: dict, code: bool = False) -> str:
    """One bar under one rule in words: solved/runs, and what the budget could not decide."""
    if not e["runs"]:
        return "not run"
    solved = e["solved_code" if code else "solved"]
    open_ = e["undecided_code" if code else "undecided"]
    text = f"{solved}/{e['runs']}"
    if open_:
        text += f"; {open_} at the {e['cap']:,}-update cap unsolved (undecided at this budget)"
    if e["diverged"]:
        text += f"; {e['diverged']} diverged"
    return text


def _rate(e: dict, key: str) -> str:
    return "-" if not e["runs"] else f"{e[key]}/{e['runs']}"


def _median(v: list[int]) -> str:
    return f"{int(median(v)):,}" if v else "-"


def table_lines(summary: dict) -> list[str]:
    rows = []
    for (task, init, alpha, T, hi, m), e in sorted(summary.items()):
        rows.append([task, init, f"{alpha:g}", length_label(T, hi), m, _rate(e, "solved"),
                     _rate(e, "solved_code"), e["undecided"], e["diverged"], e["not_finished"],
                     _median(e["steps_to_solve"]), _median(e["steps_to_solve_code"]),
                     f"{100 * min(e['best_error']):.2f}%" if e["best_error"] else "-",
                     f"{e['seconds'] / 3600:.2f}"])
    return table(["task", "init", "alpha", "T", "method", "<1% (paper)", "0 err (code)",
                  "at cap", "diverged", "not run", "median update <1%", "median update 0",
                  "best err", "hours"], rows)


@safe_plot
def plot(out: Path, summary: dict, title: str) -> Path | None:
    """Per task (and initialisation): runs solved per length and method under the paper's rule
    (bars) and the code's (dark inner bars), runs at the cap unsolved marked; below, the best
    test error of every finished run."""
    plt = get_pyplot()
    if plt is None:
        return None
    panels = sorted({k[:3] for k in summary})  # task, init, alpha
    xs = sorted({(k[3], k[4]) for k in summary})
    methods = [m for m in METHODS if any(k[5] == m for k in summary)]
    colors = [COLORS["none"], COLORS["clip"], COLORS["alt"], COLORS["extra"]]
    fig, axes = plt.subplots(2, len(panels), figsize=(max(7.0, 4.6 * len(panels)), 7.4),
                             squeeze=False)
    x = np.arange(len(xs))
    w = 0.8 / max(1, len(methods))
    labels = [length_label(T, hi).replace(" (mixed)", "\nmixed") for T, hi in xs]

    for col, (task, init, alpha) in enumerate(panels):
        top, bottom = axes[0][col], axes[1][col]
        for j, m in enumerate(methods):
            pos = x + (j - (len(methods) - 1) / 2) * w
            es = [summary.get((task, init, alpha, T, hi, m)) for T, hi in xs]
            rate = lambda e, k: 100 * (e[k] or 0) if e and e["runs"] else 0  # noqa: E731
            c = colors[list(METHODS).index(m) % 4]  # one colour per method in every figure
            top.bar(pos, [rate(e, "success_rate") for e in es], w * 0.95, color=c,
                    alpha=0.55, label=f"{METHOD_LABELS.get(m, m)} (< 1 %)")
            top.bar(pos, [rate(e, "success_rate_code") for e in es], w * 0.45,
                    color=c, label=f"{METHOD_LABELS.get(m, m)} (0 errors)")
            for p, e in zip(pos, es, strict=True):
                lbl = ("n/a" if not e or not e["runs"] else
                       f"{e['solved']}|{e['solved_code']}/{e['runs']}"
                       + (f" cap:{e['undecided']}" if e["undecided"] else ""))
                top.text(p, 2, lbl, ha="center", va="bottom", fontsize=6, rotation=90)
                errs = 100 * np.asarray(e["best_error"] if e else [], float)
                bottom.plot(np.full(len(errs), p), errs, "o", color=c, ms=4,
                            label=METHOD_LABELS.get(m, m) if p == pos[0] else None)
        top.set(xticks=x, xticklabels=labels, ylim=(0, 105), ylabel="% of runs solved",
                title=f"{task.replace('_', ' ')}, {init}, α = {alpha:g}")
        bottom.axhline(1, color="k", ls="--", lw=1, label="< 1 % (paper's rule)")
        bottom.set(xticks=x, xticklabels=labels, ylim=(0, 100), xlim=(-0.5, len(xs) - 0.5),
                   ylabel="best test error of each run (%)", xlabel="T (training length)")
        for ax in (top, bottom):
            ax.grid(alpha=0.3, axis="y", lw=0.5)
    axes[0][0].legend(fontsize=6, loc="upper right")
    axes[1][0].legend(fontsize=6, loc="upper right")
    fig.suptitle(f"{title}: runs solved (wide bars: < 1 % of 10,000 wrong, the paper's rule;\n"
                 "narrow bars: 0 errors, the code's; labels: paper|code/runs, cap: runs that "
                 "hit the update cap unsolved)", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out / "pascanu.png", dpi=80)


def default_out(part: str | None) -> Path:
    return Path("runs/pascanu" if part is None else f"runs/pascanu-{part}")


def reproduce_pascanu(out: Path | str | None = None, budget: str | None = None, *,
                      part: str | None = None, tasks: list[str] | None = None,
                      lengths: list[int] | None = None, methods: list[str] | None = None,
                      seeds: int | None = None, max_steps: int | None = None,
                      max_length: int | None = None, init: str | None = None,
                      alpha: float | None = None, workers: int | None = None,
                      scheduler: str | None = None, dask_local: int | None = None,
                      checkpoint_every: int = 1000, quiet: bool = False,
                      run: bool = True, rerun: bool = False) -> dict:
    """Run (or resume) the grid of ``budget`` or ``part``; write tables, summary and figure;
    return the summary dict. ``run=False``: only report what earlier launches finished (the
    rest as not run). ``rerun=True``: recompute every run (see `run_sweep`). Every cell saves a
    checkpoint each ``checkpoint_every`` updates, so a stopped launch resumes from there."""
    configs = grid(budget, tasks, lengths, methods, seeds, max_steps, max_length, part=part,
                   init=init, alpha=alpha)
    out = Path(out) if out is not None else default_out(part)
    name = part or budget or "quick"
    if run:
        res = run_sweep(pascanu.train_cell, configs, out, workers=workers, scheduler=scheduler,
                        dask_local=dask_local, checkpoint_every=checkpoint_every, quiet=quiet,
                        meta={"experiment": "pascanu2013", "grid": name,
                              "settings": pascanu.PAPER}, rerun=rerun)
    else:
        res = collect_sweep(configs, out, pascanu.train_cell)
    with deferred():  # a Ctrl-C now (after the last run) still gets the summary and figure
        return _report(out, name, part, configs, res)


def _report(out: Path, name: str, part: str | None, configs: list[dict], res: Any) -> dict:
    summary = summarize(res.rows)
    lines = table_lines(summary)
    statement = _statement(part)
    doc = {"grid": name, "cells": len(configs), "done": res.done, "failed": res.failed,
           "interrupted": res.interrupted, "paper_statement": statement,
           "settings": {**PAPER, "inits": INITS}, "test": cadence(configs[0]),
           "cell_settings": {k: v for k, v in configs[0].items()
                             if k not in ("task", "length", "method", "seed")},
           "results": [{"task": k[0], "init": k[1], "alpha": k[2], "length": k[3],
                        "max_length": k[4] or None, "method": k[5],
                        "paper_rule": verdict(e), "code_rule": verdict(e, code=True),
                        **{f: v for f, v in e.items() if f not in ("steps", "best_error")},
                        "best_error": min(e["best_error"]) if e["best_error"] else None,
                        "best_error_per_run": e["best_error"],
                        "steps_per_run": max(e["steps"]) if e["steps"] else 0}
                       for k, e in sorted(summary.items())]}
    atomic_write(out / "summary.json", json.dumps(to_jsonable(doc), indent=1).encode())
    fig = plot(out, summary, f"Pascanu et al. 2013, {name}")
    mixed = [f"  {k[0]}, {METHOD_LABELS.get(k[5], k[5])}: final error per test length, per run: "
             + "; ".join(", ".join(f"T={T} {100 * v:.2f}%" for T, v in f.items())
                         for f in e["final_errors"])
             for k, e in sorted(summary.items()) if k[4] and e["final_errors"]]
    text = "\n".join([f"pascanu ({name}): {res.done}/{len(configs)} runs finished"
                      + (" (interrupted: unfinished runs marked interrupted / not run)"
                         if res.interrupted else ""), f"test: {doc['test']}", *lines, *mixed,
                      f"paper: {statement}",
                      f"wrote {out / 'results.csv'}, {out / 'summary.json'}"
                      + (f", {fig}" if fig else "")])
    print(text)
    return doc
