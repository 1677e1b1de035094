"""exploding (flagship): exploding gradients in a vanilla tanh RNN, with and without clipping.

After Pascanu, Mikolov & Bengio (2013): a 50-unit tanh RNN (recurrent matrix drawn at spectral
radius 1.2, the exploding regime) learns the addition task at lengths T = 20, 50, 100 with plain
SGD and with SGD + global-norm clipping (``clip_grad_norm_`` given to the optimizer as
``clipper=``), same initialisation, data and learning rate, several seeds.  A run is *stable*
when its training loss stayed finite (it did not blow up to inf/nan); its error rate is the
paper's: the fraction of fresh sequences with squared error > 0.04, *solved* below 1%.
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

HIDDEN, RHO, LR, BATCH, MAX_NORM = 50, 1.2, 0.05, 32, 1.0
TASK = "addition"
METHODS = {"plain SGD": "none", "SGD + clip": f"norm:{MAX_NORM:g}"}


def train_one(task_name: str, length: int, clip: str, seed: int, steps: int, n_eval: int,
              recorder: MetricsRecorder, run: str, quiet: bool, lr: float = LR,
              rho: float = RHO, batch: int = BATCH) -> dict:
    """Train one RNN; returns its test error rate, success flag and whether it blew up."""
    from ... import manual_seed, no_grad, optim, tensor
    from ...nn import functional as F

    task = get_task(task_name)
    manual_seed(seed)
    # fused=False: at H=50, B=32 nn.RNN's per-op autograd path measured faster than its fused
    # kernel on the 2-core reference machine
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


def _final_loss(rec: MetricsRecorder, run: str) -> float:
    loss = rec.column("loss", run)
    return float(loss[-1]) if len(loss) and np.isfinite(loss[-1]) else math.inf


def _run_name(name: str, T: int, s: int) -> str:
    return f"{TASK} {name} T={T} seed={s}"


@safe_plot
def _plot(out: Path, rec: MetricsRecorder, lengths: list[int], results: dict, seeds: int,
          steps: int, n_eval: int) -> Path | None:
    plt = get_pyplot()
    if plt is None:
        return None
    n = len(lengths)
    fig = plt.figure(figsize=(4.3 * n, 9.6))
    gs = fig.add_gridspec(3, n, hspace=0.6, wspace=0.3)
    x = np.arange(n)
    ticks = {"xticks": x, "xticklabels": [f"T = {T}" for T in lengths]}
    gs_top = gs[0, :].subgridspec(1, 2, wspace=0.25)
    ax_s, ax_e = (fig.add_subplot(gs_top[0, k]) for k in range(2))
    for j, (name, clip) in enumerate(METHODS.items()):
        c = COLORS["none" if clip == "none" else "clip"]
        rs = [results[(name, T)] for T in lengths]
        stable = [100 * np.mean([not r["blew_up"] for r in rr]) for rr in rs]
        bars = ax_s.bar(x + (j - 0.5) * 0.38, stable, 0.36, color=c, label=name)
        for b, rr in zip(bars, rs, strict=True):
            k = sum(not r["blew_up"] for r in rr)
            ax_s.text(b.get_x() + b.get_width() / 2, b.get_height() + 2, f"{k}/{seeds}",
                      ha="center", va="bottom", fontsize=8)
        err = [100 * np.mean([r["error"] for r in rr]) for rr in rs]
        bars = ax_e.bar(x + (j - 0.5) * 0.38, err, 0.36, color=c, label=name)
        for b, rr in zip(bars, rs, strict=True):
            ax_e.text(b.get_x() + b.get_width() / 2, b.get_height() + 2,
                      f"{b.get_height():.0f}%\n{sum(r['solved'] for r in rr)} solved",
                      ha="center", va="bottom", fontsize=7)
    ax_s.set(**ticks, ylim=(0, 145), ylabel=f"% of {seeds} seeds",
             title=f"stable runs: loss stayed finite for {steps} steps")
    ax_e.axhline(1, color="k", ls="--", lw=1, label="solved: < 1% (paper)")
    ax_e.set(**ticks, ylim=(0, 145), ylabel="% wrong (sq. error > 0.04)",
             title=f"errors on {n_eval} fresh sequences (blown up = 100%)")
    for ax in (ax_s, ax_e):
        ax.grid(alpha=0.3, lw=0.5, axis="y")
        ax.legend(fontsize=7, loc="upper left", ncol=3)
    for i, T in enumerate(lengths):
        ax_l = fig.add_subplot(gs[1, i])
        ax_n = fig.add_subplot(gs[2, i], sharex=ax_l)
        drawn = False
        for name, clip in METHODS.items():
            c = COLORS["none" if clip == "none" else "clip"]
            for s in range(seeds):
                run = _run_name(name, T, s)
                step, loss, norm = (rec.column(q, run) for q in ("step", "loss", "total_norm"))
                drawn |= len(step) > 0
                lbl = name if s == 0 else None
                ax_l.plot(step, loss, color=c, lw=0.7, alpha=0.75, label=lbl)
                ax_n.plot(step, norm, color=c, lw=0.6, alpha=0.75, label=lbl)
                if len(step) and not np.isfinite(loss[-1]):
                    ax_l.plot(step[-1], np.nanmax(loss[np.isfinite(loss)], initial=1),
                              "x", color="k", ms=8, mew=2)
        ax_n.axhline(MAX_NORM, color="k", ls="--", lw=1, label=f"threshold {MAX_NORM:g}")
        scale = "log" if drawn else "linear"  # (nothing recorded after a Ctrl-C)
        ax_l.set(yscale=scale, title=f"addition, T = {T}: loss (MSE)")
        ax_n.set(yscale=scale, xlabel="step", title=f"addition, T = {T}: ‖g‖₂")
        for ax in (ax_l, ax_n):
            ax.grid(alpha=0.3, lw=0.5, which="major")
        if i == 0:
            ax_l.set_ylabel("training loss")
            ax_n.set_ylabel("gradient norm (before clip)")
            ax_l.legend(fontsize=7)
            ax_n.legend(fontsize=7)
    fig.suptitle(f"addition, 50-unit tanh RNN, ρ(W_hh) = {RHO}, SGD lr {LR}, batch {BATCH}: plain"
                 f" (red) vs global-norm clip at {MAX_NORM:g} (blue); × = loss became inf/nan",
                 fontsize=11)
    return save_figure(fig, out / "exploding.png", dpi=64)


def run(quick: bool = False, seed: int = 0, out: Path = Path("runs/exploding"),
        quiet: bool = False) -> DemoResult:
    """Default: addition at T = 20, 50, 100, 4 seeds, 300 steps each (< 60 s on 2 cores);
    quick: T = 20, 100, 2 seeds, 300 steps."""
    lengths, seeds, steps, n_eval = (([20, 100], 2, 300, 500) if quick
                                     else ([20, 50, 100], 4, 300, 1000))
    rec = MetricsRecorder({"demo": "exploding", "task": TASK, "hidden": HIDDEN, "rho": RHO,
                           "lr": LR, "batch": BATCH, "max_norm": MAX_NORM, "seed": seed,
                           "steps": steps})
    results: dict = {}
    for T in lengths:
        for name, clip in METHODS.items():
            results[(name, T)] = [
                train_one(TASK, T, clip, seed + s, steps, n_eval, rec, _run_name(name, T, s),
                          quiet) for s in range(seeds)]
    rows: list = []
    summary: dict = {"task": TASK, "lengths": lengths, "seeds": seeds, "steps": steps,
                     "n_eval": n_eval, "stable": {}, "success": {}, "mean_error": {},
                     "blew_up": {}, "final_loss": {}}
    for T in lengths:
        row: list = [T]
        key = f"T={T}"
        for name in METHODS:
            rs = results[(name, T)]
            summary["stable"].setdefault(name, {})[key] = float(np.mean(
                [not r["blew_up"] for r in rs]))
            summary["success"].setdefault(name, {})[key] = float(np.mean(
                [r["solved"] for r in rs]))
            summary["mean_error"].setdefault(name, {})[key] = float(np.mean(
                [r["error"] for r in rs]))
            summary["blew_up"].setdefault(name, {})[key] = int(sum(r["blew_up"] for r in rs))
            losses = [_final_loss(rec, _run_name(name, T, s)) for s in range(seeds)]
            summary["final_loss"].setdefault(name, {})[key] = float(np.median(losses))
            row += [f"{sum(not r['blew_up'] for r in rs)}/{seeds}",
                    f"{sum(r['solved'] for r in rs)}/{seeds}",
                    f"{100 * np.mean([r['error'] for r in rs]):.0f}%"]
        rows.append(row)
    lines = [f"exploding: addition, {steps} SGD steps per run (batch {BATCH}, lr {LR}, rho {RHO});"
             f" stable = loss stayed finite; solved = < 1% errors on {n_eval} fresh sequences",
             *table(["T", "plain stable", "plain solved", "plain err", "clip stable",
                     "clip solved", "clip err"], rows)]
    fig = _plot(out, rec, lengths, results, seeds, steps, n_eval)
    return finish("exploding", out, rec, summary, lines, [fig])
