"""charlm: the same character LSTM trained with each clipping method of ``tinyclipnn.clip``
(none, value, global norm, AGC, AutoClip, ZClip) for the same steps, seed and data: loss curves,
gradient-norm traces, final validation bits/char and a text sample from each."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..charlm import CharLMConfig, generate, train_charlm
from ..metrics import MetricsRecorder
from ..plotting import get_pyplot, safe_plot, save_figure, smooth
from ..registry import DemoResult
from ._common import finish, table

METHODS = ("none", "value:0.1", "norm:0.5", "agc:0.05", "autoclip:10", "zclip")
LR = 25.0  # plain SGD on a mean cross-entropy: high enough that unclipped training blows up


@safe_plot
def _plot(out: Path, rec: MetricsRecorder, bpc: dict[str, float], steps: int) -> Path | None:
    plt = get_pyplot()
    if plt is None:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.3),
                             gridspec_kw={"width_ratios": [1.2, 1.2, 0.8]})
    w = max(1, steps // 40)
    for i, m in enumerate(METHODS):
        run = f"clip={m}"
        step, loss, norm = (rec.column(k, run) for k in ("step", "bpc", "total_norm"))
        axes[0].plot(step, smooth(loss, w), color=f"C{i}", lw=1.3, label=m)
        axes[1].plot(step, norm, color=f"C{i}", lw=0.7, alpha=0.8, label=m)
    axes[0].set(xlabel="step", ylabel=f"training bits/char (moving avg {w})",
                title="training loss")
    axes[1].set(yscale="log", xlabel="step", ylabel="‖g‖₂ before clipping",
                title="gradient norm")
    names = list(bpc)
    axes[2].barh(names, [bpc[n] for n in names], color=[f"C{i}" for i in range(len(names))])
    for i, n in enumerate(names):
        axes[2].text(bpc[n], i, f" {bpc[n]:.2f}", va="center", fontsize=8)
    axes[2].set(xlabel="validation bits/char (lower is better)", title="final",
                xlim=(0, max(bpc.values()) * 1.2))
    axes[2].invert_yaxis()
    for ax in axes[:2]:
        ax.grid(alpha=0.3, lw=0.5)
        ax.legend(fontsize=8)
    fig.suptitle(f"Character LSTM on Python stdlib source, {steps} steps of SGD (lr {LR:g}), "
                 "one seed: each clipping method", fontsize=11)
    return save_figure(fig, out / "charlm.png", dpi=80)


def run(quick: bool = False, seed: int = 0, out: Path = Path("runs/charlm"),
        quiet: bool = False) -> DemoResult:
    """Quick: 25 steps per method on a small model; full: 500 steps, hidden 96."""
    base = (CharLMConfig(steps=25, hidden=32, seq_len=24, batch_size=16, max_chars=100_000,
                         eval_every=25, eval_windows=16)
            if quick else CharLMConfig(steps=500, hidden=96, seq_len=48, batch_size=32,
                                       max_chars=400_000, eval_every=50, eval_windows=64))
    base.optimizer, base.lr, base.seed = "sgd", LR, seed
    rec = MetricsRecorder({"demo": "charlm", "seed": seed, "steps": base.steps,
                           "hidden": base.hidden, "optimizer": base.optimizer, "lr": base.lr})
    bpc, samples, rows = {}, {}, []
    for m in METHODS:
        cfg = CharLMConfig(**{**base.__dict__, "clip": m})
        r = train_charlm(cfg, out / m.replace(":", "_"), quiet=quiet, recorder=rec,
                         run=f"clip={m}", plot=False)
        bpc[m] = r["val_bpc"] if np.isfinite(r["val_bpc"]) else float("nan")
        samples[m] = generate(r["model"], r["vocab"], 160 if not quick else 40, "def ",
                              temperature=0.7, seed=seed)
        s = rec.summary(f"clip={m}")
        rows.append([m, bpc[m], s.get("median_norm", float("nan")), s.get("frac_clipped", 0.0)])
    (out / "samples.txt").write_text("".join(f"=== clip={m} ===\n{t}\n\n"
                                             for m, t in samples.items()))
    summary = {"val_bpc": bpc, "steps": base.steps,
               "frac_clipped": {m: rec.summary(f"clip={m}").get("frac_clipped", 0.0)
                                for m in METHODS}}
    lines = [f"charlm: {base.steps} steps per method, SGD lr {base.lr}, LSTM {base.hidden}",
             *table(["clip", "val bits/char", "median norm", "frac clipped"], rows),
             f"samples in {out / 'samples.txt'}"]
    return finish("charlm", out, rec, summary, lines, [_plot(out, rec, bpc, base.steps)])
