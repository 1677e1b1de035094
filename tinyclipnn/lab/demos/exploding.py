"""exploding (flagship): clipping makes the difference between learning and not learning.

After Pascanu, Mikolov & Bengio (2013): a 50-unit tanh RNN, recurrent matrix drawn at spectral
radius 1.2 (the exploding regime), learns the temporal order task (which of AA/AB/BA/BB was
hidden among distractors; chance = 75 % wrong) at T = 20 with SGD at learning rate 0.2, batch
32, for 500 steps: plain, and with the global gradient norm clipped at 1.0 (``clip_grad_norm_``
given to the optimizer as ``clipper=``). Same initialisation, same data, same learning rate;
8 seeds, run as a sweep on all cores. Error: the paper's, the fraction of 1,000 fresh sequences
answered wrongly, *solved* below 1 %. *Diverged*: a non-finite loss, or one above 1,000x its
initial value. Clipping "makes the difference" on a seed when the clipped run solves the task,
or ends at most half as wrong as plain SGD. The learning rate sits in the middle of the band
(0.15-0.3, measured) where this holds for every seed; see the docs (reproductions/pascanu2013)
for where it falls short of the paper.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ... import manual_seed, no_grad, optim, tensor
from ...clip import ClipGradNorm
from ...data import error_rate, get_task, is_solved
from ...nn import functional as F
from ..plotting import COLORS, get_pyplot, safe_plot, save_figure
from ..registry import DemoResult
from ..rnnmodel import SeqModel
from ._common import finish, fresh_sweep, table

TASK, LENGTH, HIDDEN, RHO, LR, BATCH, MAX_NORM = "temporal_order", 20, 50, 1.2, 0.2, 32, 1.0
DIVERGE_FACTOR = 1000.0
METHODS = {"plain SGD": None, "SGD + clip": MAX_NORM}


def train_cell(config: dict, ckpt: Any = None) -> dict:
    """Sweep cell: one run (``config``: seed, method, steps, n_eval). Returns its error, whether
    it solved the task or diverged, and its per-step loss and gradient norm."""
    task, seed, steps = get_task(TASK), int(config["seed"]), int(config["steps"])
    max_norm = METHODS[config["method"]]
    manual_seed(seed)
    model = SeqModel(task.n_in, HIDDEN, task.n_out, "rnn")
    model.set_spectral_radius(RHO, np.random.default_rng(seed))
    clipper = ClipGradNorm(max_norm) if max_norm is not None else None
    opt = optim.SGD(model.parameters(), lr=LR, clipper=clipper)
    data_rng = np.random.default_rng(10_000 + seed)
    losses, norms = [], []
    diverged = False
    for k in range(steps):
        x, y = task(BATCH, LENGTH, data_rng)
        with np.errstate(over="ignore", invalid="ignore"):
            loss = F.cross_entropy(model(tensor(x)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        lv = loss.item()
        losses.append(lv)
        norms.append(float(opt.last_clip) if clipper else _norm(model))
        if ckpt is not None:
            ckpt.progress(k + 1, steps)
        if not math.isfinite(lv) or lv > DIVERGE_FACTOR * losses[0]:
            diverged = True
            break
    with no_grad(), np.errstate(over="ignore", invalid="ignore"):
        err = error_rate(task, lambda a: model(tensor(a)).data, LENGTH,
                         np.random.default_rng(99_000 + seed), n_sequences=int(config["n_eval"]))
    return {"error": err, "solved": is_solved(err), "diverged": diverged, "steps_run": len(losses),
            "loss": losses, "norm": norms}


def _norm(model: Any) -> float:
    sq = sum(float((p.grad.astype(np.float64) ** 2).sum()) for p in model.parameters()
             if p.grad is not None)
    return math.sqrt(sq)


def verdict(plain: dict | None, clip: dict | None) -> str:
    """'learns' (clipped solved, or at most half plain's error, and lower), 'no', 'not run'."""
    if plain is None or clip is None:
        return "not run"
    better = clip["error"] < plain["error"] and (clip["solved"]
                                                  or clip["error"] <= 0.5 * plain["error"])
    return "learns" if better else "no"


def _cell(rows_by: dict, seed: int, name: str) -> dict | None:
    r = rows_by.get((seed, name))
    return r if r is not None and r.get("status") == "done" else None


@safe_plot
def _plot(out: Path, seeds: list[int], rows_by: dict, steps: int, n_eval: int) -> Path | None:
    plt = get_pyplot()
    if plt is None:
        return None
    fig = plt.figure(figsize=(12, 7.6))
    gs = fig.add_gridspec(2, 2, hspace=0.42, wspace=0.22)
    ax_e = fig.add_subplot(gs[0, :])
    x = np.arange(len(seeds))
    for j, name in enumerate(METHODS):
        c = COLORS["none" if METHODS[name] is None else "clip"]
        cells = [_cell(rows_by, s, name) for s in seeds]
        h = [100 * r["error"] if r else 0.0 for r in cells]
        bars = ax_e.bar(x + (j - 0.5) * 0.38, h, 0.36, color=c, label=name)
        for b, r in zip(bars, cells, strict=True):
            lbl = ("not run" if r is None else
                   f"{100 * r['error']:.0f}%" + (" div." if r["diverged"] else ""))
            ax_e.text(b.get_x() + b.get_width() / 2, b.get_height() + 1.5, lbl, ha="center",
                      va="bottom", fontsize=7, rotation=90 if r is None else 0)
    ax_e.axhline(75, color="grey", ls=":", lw=1, label="chance (75% wrong)")
    ax_e.axhline(1, color="k", ls="--", lw=1, label="solved: < 1% (paper)")
    ticks = [f"seed {s}\n{verdict(*(_cell(rows_by, s, n) for n in METHODS))}" for s in seeds]
    ax_e.set(xticks=x, xticklabels=ticks,
             ylim=(0, 130), ylabel=f"% wrong of {n_eval} fresh sequences",
             title="test error per seed after training (same init, data and learning rate)")
    ax_e.legend(fontsize=7, loc="upper center", ncol=4)
    ax_e.grid(alpha=0.3, axis="y", lw=0.5)
    ax_l, ax_n = fig.add_subplot(gs[1, 0]), fig.add_subplot(gs[1, 1])
    for name in METHODS:
        c = COLORS["none" if METHODS[name] is None else "clip"]
        for i, s in enumerate(seeds):
            r = _cell(rows_by, s, name)
            if r is None:
                continue
            lbl = name if i == 0 else None
            ax_l.plot(np.asarray(r["loss"], float), color=c, lw=0.6, alpha=0.6, label=lbl)
            ax_n.plot(np.asarray(r["norm"], float), color=c, lw=0.5, alpha=0.5, label=lbl)
    ax_n.axhline(MAX_NORM, color="k", ls="--", lw=1, label=f"clip threshold {MAX_NORM:g}")
    ax_l.set(yscale="log", xlabel="step", ylabel="training loss (cross-entropy)",
             title="training loss, every seed")
    ax_n.set(yscale="log", xlabel="step", ylabel="‖g‖₂ before clipping",
             title="gradient norm, every seed")
    for ax in (ax_l, ax_n):
        ax.grid(alpha=0.3, lw=0.5)
        ax.legend(fontsize=7)
    fig.suptitle(f"temporal order, T = {LENGTH}, 50-unit tanh RNN, ρ(W_hh) = {RHO}, SGD lr {LR},"
                 f" batch {BATCH}, {steps} steps: plain (red) vs global-norm clip at "
                 f"{MAX_NORM:g} (blue)", fontsize=10)
    return save_figure(fig, out / "exploding.png", dpi=64)


def run(quick: bool = False, seed: int = 0, out: Path = Path("runs/exploding"),
        quiet: bool = False, workers: int | None = None) -> DemoResult:
    """Default: 8 seeds x {plain, clipped}, 500 steps each (~30-60 s on 2 cores); quick: 3
    seeds, 400 steps, 500 test sequences. ``workers``: sweep processes (default one per core;
    0 runs in this process)."""
    n_seeds, steps, n_eval = (3, 400, 500) if quick else (8, 500, 1000)
    seeds = list(range(seed, seed + n_seeds))
    configs = [{"seed": s, "method": name, "steps": steps, "n_eval": n_eval}
               for s in seeds for name in METHODS]
    res = fresh_sweep(train_cell, configs, Path(out), workers, quiet)
    rows_by = {(r["seed"], r["method"]): r for r in res.rows}
    per_seed, rows = [], []
    for s in seeds:
        p, c = _cell(rows_by, s, "plain SGD"), _cell(rows_by, s, "SGD + clip")
        v = verdict(p, c)
        fmt = lambda r: ("not run" if r is None else  # noqa: E731
                         f"{100 * r['error']:.1f}%" + (" (diverged)" if r["diverged"] else "")
                         + (" solved" if r["solved"] else ""))
        rows.append([s, fmt(p), fmt(c), v])
        per_seed.append({"seed": s, "verdict": v, **{
            name: (None if r is None else {k: r[k] for k in ("error", "solved", "diverged",
                                                            "steps_run")})
            for name, r in (("plain SGD", p), ("SGD + clip", c))}})
    n_learn = sum(d["verdict"] == "learns" for d in per_seed)
    n_run = sum(d["verdict"] != "not run" for d in per_seed)
    summary = {"task": TASK, "length": LENGTH, "hidden": HIDDEN, "rho": RHO, "lr": LR,
               "batch": BATCH, "max_norm": MAX_NORM, "steps": steps, "n_eval": n_eval,
               "seeds": seeds, "clip_learns": n_learn, "seeds_run": n_run,
               "not_run": len(seeds) - n_run, "per_seed": per_seed,
               "interrupted": res.interrupted}
    lines = [f"exploding: temporal order, T = {LENGTH}, SGD lr {LR}, batch {BATCH}, {steps} steps,"
             f" rho {RHO}; error on {n_eval} fresh sequences (chance: 75%), solved < 1%",
             *table(["seed", "plain SGD", "SGD + clip (norm 1)", "clipping makes it learn"],
                    rows),
             f"clipping makes the difference on {n_learn} of {len(seeds)} seeds"
             + (f" ({len(seeds) - n_run} not run: interrupted)" if n_run < len(seeds) else "")]
    fig = _plot(Path(out), seeds, rows_by, steps, n_eval)
    return finish("exploding", Path(out), None, summary, lines, [fig])
