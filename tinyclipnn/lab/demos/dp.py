"""dp: per-example clipping as in DP-SGD (Abadi et al., 2016) on a small classifier.

An MLP on the spirals task is trained with per-example gradients (one backward pass, see
:mod:`tinyclipnn.lab.persample`) clipped to norm C and summed by ``clip_per_sample_``, with
Gaussian noise of std sigma*C added (sigma = noise multiplier), then averaged over the batch.
The sweep over C and sigma shows the trade-off: small C slows learning (every example's push is
capped), noise costs accuracy, and the noise grows with C.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ... import manual_seed, no_grad
from ...clip import clip_per_sample_
from ...data import make_spirals
from ..loop import run_loop
from ..metrics import MetricsRecorder
from ..persample import PerSampleMLP
from ..plotting import get_pyplot, safe_plot, save_figure
from ..registry import DemoResult
from ._common import finish, fresh_sweep, record_traces, table, traces

LR, BATCH, HIDDEN = 2.0, 64, 64


def train_dp(x: np.ndarray, y: np.ndarray, max_norm: float, sigma: float, steps: int,
             seed: int, rec: MetricsRecorder, run: str, quiet: bool) -> PerSampleMLP:
    """DP-SGD: per-example clip to ``max_norm``, sum, add N(0, (sigma*max_norm)^2), average."""
    manual_seed(seed)
    model = PerSampleMLP([2, HIDDEN, 3], act="relu")
    params = list(model.parameters())
    rng = np.random.default_rng(seed)
    noise_rng = np.random.default_rng(seed + 7)

    def step(k: int) -> dict:
        idx = rng.choice(len(y), size=BATCH, replace=False)
        loss, grads = model.per_sample_grads(x[idx], y[idx])
        res = clip_per_sample_(grads, max_norm, sigma, noise_rng)
        for p, g in zip(params, res.grads, strict=True):
            p.data -= LR * g / BATCH
        return {"loss": loss, "total_norm": float(np.median(res.norms)),
                "clipped": res.num_clipped / BATCH}

    run_loop(step, steps, rec, run=run, quiet=quiet)
    return model


def accuracy(model: PerSampleMLP, x: np.ndarray, y: np.ndarray) -> float:
    with no_grad():
        return float((model(x).data.argmax(1) == y).mean())


@safe_plot
def _plot(out: Path, norms: list[float], sigmas: list[float], acc: np.ndarray) -> Path | None:
    plt = get_pyplot()
    if plt is None:
        return None
    fig, (ax, ax_h) = plt.subplots(1, 2, figsize=(12, 4.3))
    cmap = plt.get_cmap("viridis")
    for j, s in enumerate(sigmas):
        ax.semilogx(norms, 100 * acc[:, j], "o-", color=cmap(j / max(1, len(sigmas) - 1)),
                    label=f"noise multiplier σ = {s:g}")
    ax.axhline(100 / 3, color="grey", ls=":", lw=1, label="chance")
    ax.set(xlabel="per-example clip norm C", ylabel="test accuracy (%)", ylim=(0, 102),
           title="accuracy vs clip norm")
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.legend(fontsize=8)
    im = ax_h.imshow(100 * acc.T, origin="lower", cmap="viridis", vmin=33, vmax=100,
                     aspect="auto")
    for i in range(len(norms)):
        for j in range(len(sigmas)):
            ax_h.text(i, j, f"{100 * acc[i, j]:.0f}", ha="center", va="center", fontsize=8,
                      color="w" if acc[i, j] < 0.75 else "k")
    ax_h.set(xticks=range(len(norms)), xticklabels=[f"{c:g}" for c in norms],
             yticks=range(len(sigmas)), yticklabels=[f"{s:g}" for s in sigmas],
             xlabel="clip norm C", ylabel="noise multiplier σ", title="test accuracy (%)")
    fig.colorbar(im, ax=ax_h)
    fig.suptitle(f"DP-SGD style per-example clipping (clip_per_sample_) on spirals, MLP 2-"
                 f"{HIDDEN}-3, batch {BATCH}, lr {LR}", fontsize=11)
    return save_figure(fig, out / "dp.png", dpi=80)


def _split(seed: int) -> tuple[np.ndarray, ...]:
    """Spirals (3 x 200 points), shuffled by ``seed``: 80 % train, 20 % test."""
    x, y = make_spirals(n_per_class=200, n_classes=3, noise=0.15, seed=seed)
    perm = np.random.default_rng(seed).permutation(len(y))
    n_train = int(0.8 * len(y))
    tr, te = perm[:n_train], perm[n_train:]
    return x[tr], y[tr], x[te], y[te]


def dp_cell(config: dict, ckpt=None) -> dict:
    """Sweep cell: DP-SGD at one clip norm C and noise multiplier; test accuracy + traces."""
    xtr, ytr, xte, yte = _split(config["seed"])
    rec = MetricsRecorder()
    model = train_dp(xtr, ytr, config["C"], config["sigma"], config["steps"], config["seed"],
                     rec, None, True)
    return {"accuracy": accuracy(model, xte, yte), **traces(rec)}


def run(quick: bool = False, seed: int = 0, out: Path = Path("runs/dp"),
        quiet: bool = False, workers: int | None = None) -> DemoResult:
    """Sweep clip norm x noise multiplier (quick: 3 x 2 grid, 200 steps; full: 7 x 4, 600),
    one sweep cell per grid point on all cores (``workers=0``: in this process)."""
    norms = [0.03, 1.0, 30.0] if quick else [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
    sigmas = [0.0, 1.0] if quick else [0.0, 0.5, 1.0, 2.0]
    steps = 200 if quick else 600
    rec = MetricsRecorder({"demo": "dp", "seed": seed, "lr": LR, "batch": BATCH})
    configs = [{"C": c, "sigma": s, "steps": steps, "seed": seed} for c in norms for s in sigmas]
    res = fresh_sweep(dp_cell, configs, out, workers, quiet)
    acc = np.full((len(norms), len(sigmas)), np.nan)  # nan: not run (interrupted)
    for r in res.rows:
        if r["status"] == "done":
            acc[norms.index(r["C"]), sigmas.index(r["sigma"])] = r["accuracy"]
            record_traces(rec, f"C={r['C']:g} sigma={r['sigma']:g}",
                          {k: r[k] for k in ("loss", "total_norm", "clipped")})
    rows = [[f"{c:g}", *[f"{100 * a:.0f}%" if np.isfinite(a) else "not run" for a in acc[i]]]
            for i, c in enumerate(norms)]
    summary = {"clip_norms": norms, "noise_multipliers": sigmas, "test_accuracy": acc.tolist(),
               "steps": steps}
    lines = [f"dp: test accuracy after {steps} DP-SGD steps (rows: clip norm C, columns: noise "
             "multiplier)", *table(["C"] + [f"sigma={s:g}" for s in sigmas], rows)]
    return finish("dp", out, rec, summary, lines, [_plot(out, norms, sigmas, acc)])
