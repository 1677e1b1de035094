"""cliff: Pascanu et al. (2013)'s one-neuron RNN and the cliff in its loss surface.

The model is ``x_t = w * sigmoid(x_{t-1}) + b`` with ``x_0 = 0.5`` for 50 steps and loss
``(sigmoid(x_50) - 0.7)^2``.  Where the map's two attractors merge the final state jumps, so the
loss surface has a wall whose gradient is enormous.  Gradient descent from many starts is run with
and without global-norm clipping (``g * min(1, c / (||g|| + 1e-6))``, the rule of
``clip_grad_norm_``), vectorised over starts in numpy with hand-written BPTT.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..loop import run_loop
from ..metrics import MetricsRecorder
from ..plotting import COLORS, get_pyplot, safe_plot, save_figure
from ..registry import DemoResult
from ._common import finish, table

T, X0, TARGET = 50, 0.5, 0.7
CONVERGED = 1e-3
START_BOX = ((3.0, 10.0), (-8.0, -1.0))  # (w range, b range) of the random starts


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def loss_and_grad(w: np.ndarray, b: np.ndarray, steps: int = T
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Loss and its gradient (dL/dw, dL/db) for arrays of (w, b), by BPTT."""
    w, b = np.broadcast_arrays(np.asarray(w, np.float64), np.asarray(b, np.float64))
    xs = [np.full(w.shape, X0)]
    for _ in range(steps):
        xs.append(w * _sigmoid(xs[-1]) + b)
    s = _sigmoid(xs[-1])
    loss = (s - TARGET) ** 2
    delta = 2.0 * (s - TARGET) * s * (1.0 - s)
    gw, gb = np.zeros_like(w), np.zeros_like(w)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps, 0, -1):
            sp = _sigmoid(xs[t - 1])
            gw += delta * sp
            gb += delta
            delta = delta * w * sp * (1.0 - sp)
    return loss, gw, gb


def descend(w0: np.ndarray, b0: np.ndarray, lr: float, steps: int, max_norm: float | None,
            recorder: MetricsRecorder, run: str, n_paths: int, quiet: bool) -> dict:
    """Gradient descent from every start at once; returns final losses and the first paths."""
    w, b = w0.astype(np.float64).copy(), b0.astype(np.float64).copy()
    paths = np.empty((steps + 1, n_paths, 2))
    paths[0] = np.stack([w[:n_paths], b[:n_paths]], -1)

    def step(k: int) -> dict:
        loss, gw, gb = loss_and_grad(w, b)
        norm = np.hypot(gw, gb)
        coef = np.ones_like(norm)
        if max_norm is not None:
            coef = np.minimum(1.0, max_norm / (norm + 1e-6))
        with np.errstate(invalid="ignore", over="ignore"):
            w[:] = np.nan_to_num(w - lr * coef * gw, nan=1e3, posinf=1e3, neginf=-1e3)
            b[:] = np.nan_to_num(b - lr * coef * gb, nan=1e3, posinf=1e3, neginf=-1e3)
        paths[k + 1] = np.stack([w[:n_paths], b[:n_paths]], -1)
        return {"loss": float(loss.mean()), "total_norm": float(np.median(norm)),
                "max_norm_over_starts": float(norm.max()), "coef": float(coef.mean()),
                "clipped": float((coef < 1).mean())}

    run_loop(step, steps, recorder, run=run, quiet=quiet)
    final = loss_and_grad(w, b)[0]
    return {"loss": final, "paths": paths, "converged": float((final < CONVERGED).mean())}


@safe_plot
def _plot(out: Path, lrs: list[float], results: dict, show_lr: float, max_norm: float,
          n_starts: int) -> Path | None:
    plt = get_pyplot()
    if plt is None:
        return None
    wg, bg = np.meshgrid(np.linspace(-1, 12, 300), np.linspace(-9, 4, 300))
    surf = np.log10(loss_and_grad(wg, bg)[0] + 1e-7)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), gridspec_kw={"width_ratios": [1, 1, 0.9]})
    for ax, method, title in ((axes[0], "none", "plain GD"),
                              (axes[1], "clip", f"GD + norm clipping (c={max_norm:g})")):
        im = ax.pcolormesh(wg, bg, surf, shading="auto", cmap="viridis", rasterized=True)
        r = results[(method, show_lr)]
        for i in range(r["paths"].shape[1]):
            p = r["paths"][:, i]
            ok = r["loss"][i] < CONVERGED
            ax.plot(p[:, 0], p[:, 1], "-", color="white" if ok else COLORS["none"], lw=1.1)
            ax.plot(p[0, 0], p[0, 1], "o", color="white", ms=3, mec="k", mew=0.4)
        ax.set(xlim=(-1, 12), ylim=(-9, 4), xlabel="w", ylabel="b",
               title=f"{title}, lr={show_lr:g}: {100 * r['converged']:.0f}% converge")
    fig.colorbar(im, ax=axes[:2], label="log10 loss", shrink=0.85, pad=0.01)
    ax = axes[2]
    for method, label in (("none", "plain GD"), ("clip", f"clipped GD (c={max_norm:g})")):
        ax.plot(lrs, [100 * results[(method, lr)]["converged"] for lr in lrs], "o-",
                color=COLORS[method], label=label)
    ax.set(xscale="log", xlabel="learning rate", ylabel=f"% of {n_starts} starts converged",
           ylim=(-3, 103), title="fraction converged (loss < 1e-3)")
    ax.set_xticks(lrs, [f"{lr:g}" for lr in lrs])
    ax.minorticks_off()
    ax.grid(alpha=0.3)
    ax.legend()
    fig.suptitle("One-neuron RNN x_t = w·σ(x_{t-1}) + b, 50 steps, loss (σ(x_50) − 0.7)² — "
                 "white: converged, red: not (thrown off the cliff onto a flat plateau, "
                 "or still crawling)", fontsize=11)
    return save_figure(fig, out / "cliff.png", dpi=80)


def run(quick: bool = False, seed: int = 0, out: Path = Path("runs/cliff"),
        quiet: bool = False) -> DemoResult:
    """Run the cliff demo (quick: 150 starts, 2 learning rates; full: 800 starts, 5)."""
    rng = np.random.default_rng(seed)
    n_starts, steps = (150, 600) if quick else (800, 1000)
    lrs = [1.0, 3.0] if quick else [0.3, 1.0, 3.0, 10.0, 30.0]
    show_lr, max_norm, n_paths = 1.0, 1.0, 12
    (wl, wh), (bl, bh) = START_BOX
    w0, b0 = rng.uniform(wl, wh, n_starts), rng.uniform(bl, bh, n_starts)
    # draw the paths of starts just below the cliff, where the story happens: put them first
    near = (loss_and_grad(w0, b0)[0] > 0.3) & (b0 > -6.5) & (w0 > 5.0)
    order = np.concatenate([np.flatnonzero(near), np.flatnonzero(~near)])
    w0, b0 = w0[order], b0[order]
    rec = MetricsRecorder({"demo": "cliff", "seed": seed, "quick": quick, "starts": n_starts})
    results = {}
    for lr in lrs:
        for method in ("none", "clip"):
            mn = max_norm if method == "clip" else None
            run_name = f"{'clip' if mn else 'no clip'} lr={lr:g}"
            results[(method, lr)] = descend(w0, b0, lr, steps, mn, rec, run_name, n_paths, quiet)
    rows = [[lr, results[("none", lr)]["converged"], results[("clip", lr)]["converged"]]
            for lr in lrs]
    summary = {"converged_no_clip": {str(lr): results[("none", lr)]["converged"] for lr in lrs},
               "converged_clip": {str(lr): results[("clip", lr)]["converged"] for lr in lrs},
               "starts": n_starts, "steps": steps, "max_norm": max_norm}
    lines = [f"cliff: fraction of {n_starts} starts reaching loss < {CONVERGED:g} "
             f"after {steps} GD steps", *table(["lr", "plain GD", "clipped GD"], rows)]
    fig = _plot(out, lrs, results, show_lr, max_norm, n_starts)
    return finish("cliff", out, rec, summary, lines, [fig])
