"""gradflow: ||dL/dh_t|| across time for a tanh RNN, an LSTM and a GRU — vanishing and
exploding gradients made visible, before and after training, and what ``bptt_clip`` does.

The loss is read at the last step of a temporal-order sequence, so ``dL/dh_t`` is the signal that
reaches step t after flowing back through T-1-t recurrent steps.  The recurrent layers record
these norms themselves (``record_grad_norms=True``; ``layer.grad_norms["l0"]`` is (T, B)).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ... import manual_seed, optim, tensor
from ...data import get_task
from ...nn import functional as F
from ..clipspec import parse_clip
from ..loop import run_loop
from ..metrics import MetricsRecorder
from ..plotting import COLORS, get_pyplot, safe_plot, save_figure
from ..registry import DemoResult
from ..rnnmodel import SeqModel
from ._common import finish

HIDDEN, BATCH = 50, 32
CELLS = {"tanh RNN": ("rnn", None), "tanh RNN, ρ(W_hh)=3": ("rnn", 3.0), "LSTM": ("lstm", None),
         "GRU": ("gru", None)}
STYLE = {"tanh RNN": COLORS["none"], "tanh RNN, ρ(W_hh)=3": COLORS["extra"],
         "LSTM": COLORS["clip"], "GRU": COLORS["alt"]}


def build(cell: str, rho: float | None, seed: int, **rnn_kwargs) -> SeqModel:
    """A SeqModel on temporal order whose recurrent layer records its hidden-state gradients."""
    manual_seed(seed)
    task = get_task("temporal_order")
    model = SeqModel(task.n_in, HIDDEN, task.n_out, cell, record_grad_norms=True, **rnn_kwargs)
    if rho is not None:
        model.set_spectral_radius(rho, np.random.default_rng(seed))
    return model


def profile(model: SeqModel, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean over the batch of ||dL/dh_t|| for every t (one forward/backward, no update)."""
    model.zero_grad()
    F.cross_entropy(model(tensor(x)), y).backward()
    return model.rnn.grad_norms["l0"].mean(axis=1)


def train(model: SeqModel, length: int, steps: int, seed: int, rec: MetricsRecorder, run: str,
          quiet: bool) -> None:
    """Adam + global-norm clipping on temporal order of ``length``."""
    task, rng = get_task("temporal_order"), np.random.default_rng(seed)
    opt = optim.Adam(model.parameters(), lr=3e-3, clipper=parse_clip("norm:1.0"))

    def step(k: int) -> dict:
        x, y = task(BATCH, length, rng)
        loss = F.cross_entropy(model(tensor(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item(), **opt.last_clip.as_dict()}

    run_loop(step, steps, rec, run=run, quiet=quiet)


@safe_plot
def _plot(out: Path, t: np.ndarray, init: dict, trained: dict, bptt: dict) -> Path | None:
    plt = get_pyplot()
    if plt is None:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4), sharey=False)
    for ax, data, title in ((axes[0], init, "at initialisation"),
                            (axes[1], trained, "after training (Adam + norm clip)")):
        for name, g in data.items():
            ax.semilogy(t, g, color=STYLE[name], lw=1.6, label=name)
        ax.set(xlabel="time step t (loss at the last step)", ylabel="mean ‖∂L/∂h_t‖",
               title=title)
    for (name, g), c in zip(bptt.items(), (COLORS["extra"], COLORS["alt"], COLORS["clip"]),
                            strict=True):
        axes[2].semilogy(t, g, color=c, lw=1.6, label=name)
    axes[2].set(xlabel="time step t", ylabel="mean ‖∂L/∂h_t‖ (before that step's clip)",
                title="tanh RNN, ρ(W_hh)=3: bptt_clip during backward")
    for ax in axes:
        ax.grid(alpha=0.3, which="major", lw=0.5)
        ax.legend(fontsize=8)
    fig.suptitle(f"Gradient flow back through time on temporal order (T = {len(t)}, "
                 f"{HIDDEN} units): reading right to left, the signal vanishes or explodes",
                 fontsize=11)
    return save_figure(fig, out / "gradflow.png", dpi=80)


def run(quick: bool = False, seed: int = 0, out: Path = Path("runs/gradflow"),
        quiet: bool = False) -> DemoResult:
    """Profiles at T = 100 (quick: 50); training on T = 50 for 400 steps (quick: 20, 60)."""
    length, train_len, steps = (50, 20, 60) if quick else (100, 50, 400)
    x, y = get_task("temporal_order")(BATCH, length, np.random.default_rng(seed + 1))
    rec = MetricsRecorder({"demo": "gradflow", "seed": seed, "T": length})
    init, trained = {}, {}
    for name, (cell, rho) in CELLS.items():
        model = build(cell, rho, seed)
        init[name] = profile(model, x, y)
        if rho is None:
            train(model, train_len, steps, seed, rec, f"train {name}", quiet)
            trained[name] = profile(model, x, y)
    bptt = {}
    for label, kw in (("no bptt_clip", {}), ("bptt_clip=0.1, mode='value'",
                                              {"bptt_clip": 0.1, "bptt_clip_mode": "value"}),
                      ("bptt_clip=1.0, mode='norm'", {"bptt_clip": 1.0,
                                                      "bptt_clip_mode": "norm"})):
        bptt[label] = profile(build("rnn", 3.0, seed, **kw), x, y)
    t = np.arange(length)

    def ratio(g: np.ndarray) -> float:
        """log10 of ||dL/dh_0|| / ||dL/dh_{T-1}||: < 0 vanishing, > 0 exploding."""
        return float(np.log10(max(g[0], 1e-300) / g[-1]))

    summary = {"T": length, "log10_ratio_first_last_init": {k: ratio(g) for k, g in init.items()},
               "log10_ratio_first_last_trained": {k: ratio(g) for k, g in trained.items()},
               "log10_ratio_bptt_clip": {k: ratio(g) for k, g in bptt.items()},
               "final_train_loss": {k: float(np.mean(rec.column("loss", f"train {k}")[-20:]))
                                    for k in trained}}
    for name, g in {**{f"init {k}": v for k, v in init.items()},
                    **{f"trained {k}": v for k, v in trained.items()},
                    **{f"rho=3 {k}": v for k, v in bptt.items()}}.items():
        for i, v in enumerate(g):
            rec.record(run=f"profile {name}", step=i, grad_h_norm=float(v))
    lines = [f"gradflow: log10(||dL/dh_0|| / ||dL/dh_T-1||) over T = {length} "
             "(negative: vanishing, positive: exploding)"]
    for title, d in (("init", init), ("trained", trained), ("rho=3 RNN", bptt)):
        lines.append(f"  {title:<9} " + ", ".join(f"{k}: {ratio(g):+.1f}" for k, g in d.items()))
    lines.append("  final training loss (chance 1.386): " + ", ".join(
        f"{k}: {v:.3f}" for k, v in summary["final_train_loss"].items()))
    return finish("gradflow", out, rec, summary, lines, [_plot(out, t, init, trained, bptt)])
