"""exploding (flagship): exploding gradients in a vanilla tanh RNN, with and without clipping.

After Pascanu, Mikolov & Bengio (2013): a 50-unit tanh RNN (recurrent matrix drawn at spectral
radius 1.2, the exploding regime) learns the temporal-order and the addition task at lengths
T = 20, 50, 100 with plain SGD and with SGD + global-norm clipping (``clip_grad_norm_`` given to
the optimizer as ``clipper=``), same initialisation, data and learning rate, several seeds.  A run
*succeeds* with the paper's criterion: < 1% wrong answers on fresh sequences; a run *blew up*
when its loss became inf/nan.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ...data import error_rate, get_task, is_solved
from ..clipspec import parse_clip
from ..loop import run_loop
from ..metrics import MetricsRecorder
from ..plotting import COLORS, get_pyplot, safe_plot, save_figure
from ..registry import DemoResult
from ..rnnmodel import SeqModel
from ._common import finish, table

HIDDEN, RHO, LR, BATCH, MAX_NORM = 50, 1.2, 0.1, 32, 1.0
METHODS = {"plain SGD": "none", "SGD + clip": f"norm:{MAX_NORM:g}"}


def train_one(task_name: str, length: int, clip: str, seed: int, steps: int, n_eval: int,
              recorder: MetricsRecorder, run: str, quiet: bool, lr: float = LR,
              rho: float = RHO, batch: int = BATCH) -> dict:
    """Train one RNN; returns its test error rate, success flag and whether it blew up."""
    from ... import manual_seed, no_grad, optim, tensor
    from ...nn import functional as F

    task = get_task(task_name)
    manual_seed(seed)
    # fused=False: at H=50, T=100 nn.RNN's per-op autograd path is faster than its fused kernel
    model = SeqModel(task.n_in, HIDDEN, task.n_out, "rnn", fused=False)
    model.set_spectral_radius(rho, np.random.default_rng(seed))
    opt = optim.SGD(model.parameters(), lr=lr, clipper=parse_clip(clip))
    data_rng = np.random.default_rng(10_000 + seed)

    def step(k: int) -> dict:
        x, y = task(batch, length, data_rng)
        with np.errstate(over="ignore", invalid="ignore"):  # blowing up is what we show
            out = model(tensor(x))
            loss = (F.mse_loss(out, tensor(y)) if task.kind == "last_real"
                    else F.cross_entropy(out, y))
            opt.zero_grad()
            loss.backward()
            opt.step()
        lv = loss.item()
        return {"loss": lv, **opt.last_clip.as_dict(), "stop": not math.isfinite(lv)}

    res = run_loop(step, steps, recorder, run=run, quiet=quiet)
    if res.steps == 0:  # Ctrl-C earlier in the demo: nothing to evaluate
        return {"error": math.nan, "solved": False, "blew_up": False, "interrupted": True}
    with no_grad(), np.errstate(over="ignore", invalid="ignore"):
        err = error_rate(task, lambda x: model(tensor(x)).data, length,
                         np.random.default_rng(99_000 + seed), n_sequences=n_eval)
    return {"error": err, "solved": is_solved(err), "blew_up": res.stopped,
            "interrupted": res.interrupted}


def _outcome(results: dict, task: str, name: str, T: int) -> list[dict]:
    return results[(task, name, T)]


def _final_loss(rec: MetricsRecorder, run: str) -> float:
    loss = rec.column("loss", run)
    return float(loss[-1]) if len(loss) and np.isfinite(loss[-1]) else math.inf


@safe_plot
def _plot(out: Path, rec: MetricsRecorder, tasks: tuple[str, ...], lengths: list[int],
          results: dict, seeds: int, n_eval: int) -> Path | None:
    plt = get_pyplot()
    if plt is None:
        return None
    n = len(lengths)
    fig = plt.figure(figsize=(4.3 * n, 3.0 * (1 + 2 * len(tasks))))
    gs = fig.add_gridspec(1 + 2 * len(tasks), n, hspace=0.6, wspace=0.3)
    x = np.arange(n)
    ticks = {"xticks": x, "xticklabels": [f"T = {T}" for T in lengths]}
    gs_top = gs[0, :].subgridspec(1, len(tasks), wspace=0.25)
    top = [fig.add_subplot(gs_top[0, k]) for k in range(len(tasks))]
    for ax, task in zip(top, tasks, strict=False):
        for j, (name, clip) in enumerate(METHODS.items()):
            c = COLORS["none" if clip == "none" else "clip"]
            rate = [100 * np.mean([r["solved"] for r in _outcome(results, task, name, T)])
                    for T in lengths]
            bars = ax.bar(x + (j - 0.5) * 0.38, rate, 0.36, color=c, label=name)
            for b, T in zip(bars, lengths, strict=True):
                rs = _outcome(results, task, name, T)
                blew = sum(r["blew_up"] for r in rs)
                err = np.mean([r["error"] for r in rs])
                note = f"{100 * err:.0f}% err" + (f"\n{blew} blew up" if blew else "")
                ax.text(b.get_x() + b.get_width() / 2, b.get_height() + 2, note,
                        ha="center", va="bottom", fontsize=7)
        ax.set(**ticks, ylim=(0, 125), ylabel=f"% of {seeds} seeds solved",
               title=f"{task.replace('_', ' ')}: solved = < 1% errors on {n_eval} sequences")
        ax.grid(alpha=0.3, lw=0.5, axis="y")
        ax.legend(fontsize=8, loc="upper right")
    for k, task in enumerate(tasks):
        for i, T in enumerate(lengths):
            ax_l = fig.add_subplot(gs[1 + 2 * k, i])
            ax_n = fig.add_subplot(gs[2 + 2 * k, i], sharex=ax_l)
            drawn = False
            for name, clip in METHODS.items():
                c = COLORS["none" if clip == "none" else "clip"]
                for s in range(seeds):
                    run = f"{task} {name} T={T} seed={s}"
                    step, loss, norm = (rec.column(q, run) for q in ("step", "loss",
                                                                      "total_norm"))
                    drawn |= len(step) > 0
                    lbl = name if s == 0 else None
                    ax_l.plot(step, loss, color=c, lw=0.7, alpha=0.75, label=lbl)
                    ax_n.plot(step, norm, color=c, lw=0.6, alpha=0.75, label=lbl)
                    if len(step) and not np.isfinite(loss[-1]):
                        ax_l.plot(step[-1], np.nanmax(loss[np.isfinite(loss)], initial=1),
                                  "x", color="k", ms=8, mew=2)
            ax_n.axhline(MAX_NORM, color="k", ls="--", lw=1, label=f"threshold {MAX_NORM:g}")
            short = task.replace("_", " ")
            scale = "log" if drawn else "linear"  # (nothing recorded after a Ctrl-C)
            ax_l.set(yscale=scale, title=f"{short}, T = {T}: loss")
            ax_n.set(yscale=scale, xlabel="step", title=f"{short}, T = {T}: ‖g‖₂")
            for ax in (ax_l, ax_n):
                ax.grid(alpha=0.3, lw=0.5, which="major")
            if i == 0:
                ax_l.set_ylabel("training loss")
                ax_n.set_ylabel("gradient norm (before clip)")
                ax_l.legend(fontsize=7)
                ax_n.legend(fontsize=7)
    fig.suptitle(f"50-unit tanh RNN, ρ(W_hh) = {RHO}, SGD lr = {LR}, batch {BATCH}: plain (red)"
                 f" vs global-norm clipping at {MAX_NORM:g} (blue); × = loss became inf/nan",
                 fontsize=12)
    return save_figure(fig, out / "exploding.png", dpi=64)


def run(quick: bool = False, seed: int = 0, out: Path = Path("runs/exploding"),
        quiet: bool = False) -> DemoResult:
    """Default: both tasks at T = 20, 50, 100, 2 seeds, 300 steps each (< 60 s on 2 cores);
    quick: T = 20, 50, 1 seed, 200 steps."""
    tasks = ("temporal_order", "addition")
    lengths, seeds, steps, n_eval = (([20, 50], 1, 200, 500) if quick
                                     else ([20, 50, 100], 2, 300, 1000))
    rec = MetricsRecorder({"demo": "exploding", "hidden": HIDDEN, "rho": RHO, "lr": LR,
                           "batch": BATCH, "max_norm": MAX_NORM, "seed": seed, "steps": steps})
    results: dict = {}
    for task in tasks:
        for T in lengths:
            for name, clip in METHODS.items():
                results[(task, name, T)] = [
                    train_one(task, T, clip, seed + s, steps, n_eval, rec,
                              f"{task} {name} T={T} seed={s}", quiet) for s in range(seeds)]
    rows: list = []
    summary: dict = {"tasks": tasks, "lengths": lengths, "seeds": seeds, "steps": steps,
                     "n_eval": n_eval, "success": {}, "mean_error": {}, "blew_up": {},
                     "final_loss": {}}
    for task in tasks:
        for T in lengths:
            row: list = [task, T]
            for name in METHODS:
                rs = results[(task, name, T)]
                key = f"{task} T={T}"
                summary["success"].setdefault(name, {})[key] = float(np.mean(
                    [r["solved"] for r in rs]))
                summary["mean_error"].setdefault(name, {})[key] = float(np.mean(
                    [r["error"] for r in rs]))
                summary["blew_up"].setdefault(name, {})[key] = int(sum(r["blew_up"] for r in rs))
                losses = [_final_loss(rec, f"{task} {name} T={T} seed={s}") for s in range(seeds)]
                summary["final_loss"].setdefault(name, {})[key] = float(np.median(losses))
                row += [f"{sum(r['solved'] for r in rs)}/{seeds}",
                        f"{100 * np.mean([r['error'] for r in rs]):.0f}%",
                        sum(r["blew_up"] for r in rs)]
            rows.append(row)
    lines = [f"exploding: {steps} SGD steps per run (batch {BATCH}, lr {LR}, rho {RHO}); solved ="
             f" < 1% errors on {n_eval} fresh sequences",
             *table(["task", "T", "plain solved", "plain err", "plain blew up", "clip solved",
                     "clip err", "clip blew up"], rows)]
    fig = _plot(out, rec, tasks, lengths, results, seeds, n_eval)
    return finish("exploding", out, rec, summary, lines, [fig])
