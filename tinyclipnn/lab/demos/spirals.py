"""spirals: the quickstart run.  A small MLP learns the 3-arm spirals task with SGD + momentum
and global-norm clipping (``clip_grad_norm_`` passed as the optimizer's ``clipper=``); progress
lines show steps/s, loss, gradient norm and the fraction of steps clipped."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ... import manual_seed, nn, no_grad, optim, tensor
from ...data import make_spirals
from ...nn import functional as F
from ..clipspec import parse_clip
from ..loop import run_loop
from ..metrics import MetricsRecorder
from ..plotting import COLORS, get_pyplot, plot_traces, safe_plot, save_figure
from ..registry import DemoResult
from ._common import finish

CLIP = "norm:1.0"


def build_mlp(hidden: int = 64):
    """2 -> hidden -> hidden -> 3 ReLU MLP."""
    return nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, 3))


@safe_plot
def _plot_regions(out: Path, model, x: np.ndarray, y: np.ndarray, acc: float) -> Path | None:
    plt = get_pyplot(warn=False)
    if plt is None:
        return None
    g = np.linspace(-1.1, 1.1, 200)
    gx, gy = np.meshgrid(g, g)
    with no_grad():
        z = model(tensor(np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)))
    pred = z.data.argmax(1).reshape(gx.shape)
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    colors = [COLORS["none"], COLORS["clip"], COLORS["alt"]]
    from matplotlib.colors import ListedColormap

    ax.contourf(gx, gy, pred, levels=[-0.5, 0.5, 1.5, 2.5], cmap=ListedColormap(colors),
                alpha=0.25)
    for k in range(3):
        ax.scatter(*x[y == k].T, s=8, color=colors[k])
    ax.set(xticks=[], yticks=[], title=f"decision regions, train accuracy {100 * acc:.1f}%")
    return save_figure(fig, out / "spirals_regions.png", dpi=90)


def run(quick: bool = False, seed: int = 0, out: Path = Path("runs/spirals"),
        quiet: bool = False) -> DemoResult:
    """Train the MLP full-batch (quick: 300 steps, full: 1500) with ``norm:1.0`` clipping."""
    manual_seed(seed)
    x, y = make_spirals(n_per_class=100, n_classes=3, seed=seed)
    model = build_mlp()
    clipper = parse_clip(CLIP)
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9, clipper=clipper)
    steps = 300 if quick else 1500
    rec = MetricsRecorder({"demo": "spirals", "seed": seed, "clip": CLIP, "lr": 0.5})
    xt = tensor(x)

    def step(k: int) -> dict:
        opt.zero_grad()
        out_ = model(xt)
        loss = F.cross_entropy(out_, y)
        loss.backward()
        opt.step()  # the clipper runs first and reports what it did in opt.last_clip
        acc = float((out_.data.argmax(1) == y).mean())
        return {"loss": loss.item(), **opt.last_clip.as_dict(), "accuracy": acc}

    res = run_loop(step, steps, rec, run=f"mlp clip={CLIP}", desc="spirals", quiet=quiet)
    with no_grad():
        acc = float((model(xt).data.argmax(1) == y).mean())
    s = rec.summary()
    summary = {"train_accuracy": acc, "steps": res.steps, "steps_per_s": res.steps_per_s,
               "final_loss": s.get("final_loss"), "frac_clipped": s.get("frac_clipped"),
               "median_norm": s.get("median_norm"), "interrupted": res.interrupted}
    lines = [f"spirals: MLP 2-64-64-3, SGD(lr=0.5, momentum=0.9), clip {CLIP}",
             f"  {res.steps} steps in {res.seconds:.1f} s ({res.steps_per_s:.0f} steps/s)",
             f"  final loss {s.get('final_loss', float('nan')):.4f}, train accuracy "
             f"{100 * acc:.1f}%",
             f"  gradient norm median {s.get('median_norm', float('nan')):.3g}, max "
             f"{s.get('max_norm', float('nan')):.3g}; {100 * s.get('frac_clipped', 0):.0f}% "
             f"of steps clipped"]
    figs = [plot_traces(rec, out / "spirals_traces.png", "spirals MLP: loss and gradient norm",
                        colors={f"mlp clip={CLIP}": COLORS["clip"]}),
            _plot_regions(out, model, x, y, acc)]
    return finish("spirals", out, rec, summary, lines, figs)
