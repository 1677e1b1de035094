"""stability: SGD vs clipped SGD across step sizes (after Mai & Johansson, 2021).

Problem: least-fourth-power regression ``f(x) = mean((a_i^T x - b_i)^4) / 4``, convex but with
(sub)gradients that grow cubically, so no global Lipschitz or smoothness constant exists.  Plain
SGD ``x -= alpha * g`` is stable only for small step sizes; clipped SGD
``x -= min(alpha, gamma / ||g||) * g`` (`clipped_step`: step length at most gamma) stays stable
for every step size.  Both run for the same number of single-sample steps from the same start,
several seeds; the figure shows the final suboptimality ``f(x_K) - f*`` against the step size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..loop import run_loop
from ..metrics import MetricsRecorder
from ..plotting import COLORS, get_pyplot, safe_plot, save_figure
from ..registry import DemoResult
from ._common import finish, fresh_sweep, record_traces, table, traces

DIVERGED = 1e12  # suboptimality reported for runs that blew up


def make_problem(n: int, d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian design ``A`` (n, d) and targets ``b = A x_true + noise``."""
    a = rng.standard_normal((n, d))
    x_true = rng.standard_normal(d)
    return a, a @ x_true + 0.5 * rng.standard_normal(n)


def objective(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """f(x) for x of shape (..., d)."""
    with np.errstate(over="ignore", invalid="ignore"):
        r = x @ a.T - b
        return np.mean(r**4, axis=-1) / 4.0


def minimum(a: np.ndarray, b: np.ndarray) -> float:
    """f* by damped Newton from the least-squares solution."""
    x = np.linalg.lstsq(a, b, rcond=None)[0]
    for _ in range(100):
        r = a @ x - b
        g = a.T @ r**3 / len(b)
        h = (a * (3 * r**2)[:, None]).T @ a / len(b)
        step = np.linalg.solve(h, g)
        t = 1.0
        while objective(a, b, x - t * step) > objective(a, b, x) and t > 1e-8:
            t /= 2
        x = x - t * step
        if np.linalg.norm(g) < 1e-12:
            break
    return float(objective(a, b, x))


def _median_finite(v: np.ndarray) -> float:
    """Median of the finite entries (inf when none is finite)."""
    with np.errstate(over="ignore", invalid="ignore"):
        v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else float("inf")


def clipped_step(alpha: np.ndarray | float, gamma: float, norm: np.ndarray) -> np.ndarray:
    """The step size ``h`` of Mai & Johansson (2021)'s clipped stochastic (sub)gradient method,
    ``x_{k+1} = x_k - min(alpha_k, gamma / ||g_k||) g_k``: the plain step ``alpha * g`` while
    ``alpha ||g|| <= gamma``, else a step of length exactly ``gamma`` along ``-g``. The same
    update written the usual way is ``x -= alpha * clip(g, gamma / alpha)`` with ``clip(g, c) =
    min(1, c / ||g||) g``: the gradient clipped at ``gamma / alpha``, i.e. the *step* (not the
    gradient) clipped at length gamma, so the largest move does not grow with alpha. (With
    ``alpha * clip(g, gamma)`` instead, steps up to ``alpha * gamma`` long, that bound would grow
    with the step size.)"""
    return np.minimum(alpha, gamma / np.maximum(norm, 1e-300))


def sgd(a: np.ndarray, b: np.ndarray, alphas: np.ndarray, reps: int, steps: int,
        gamma: float | None, rng: np.random.Generator, recorder: MetricsRecorder, run: str,
        quiet: bool) -> np.ndarray:
    """Final iterates (n_alpha, reps, d) of single-sample SGD (clipped when ``gamma``)."""
    x = np.zeros((len(alphas), reps, a.shape[1]))
    alpha = alphas[:, None]
    samples = rng.integers(0, len(b), size=(steps, len(alphas), reps))

    def step(k: int) -> dict:
        ai = a[samples[k]]
        with np.errstate(over="ignore", invalid="ignore"):
            r = np.einsum("ijk,ijk->ij", ai, x) - b[samples[k]]
            g = (r**3)[..., None] * ai
            norm = np.linalg.norm(g, axis=-1)
            h = alpha if gamma is None else clipped_step(alpha, gamma, norm)
            x[:] = x - h[..., None] * g
            loss = r**4 / 4.0
        clipped = (h < alpha) if gamma is not None else np.zeros(norm.shape, bool)
        return {"loss": _median_finite(loss), "total_norm": _median_finite(norm),
                "clipped": float(clipped.mean()), "diverged": float((~np.isfinite(norm)).mean())}

    run_loop(step, steps, recorder, run=run, quiet=quiet)
    return x


@safe_plot
def _plot(out: Path, alphas: np.ndarray, subopt: dict, gamma: float, steps: int
          ) -> Path | None:
    plt = get_pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    for key, label in (("sgd", "SGD"), ("clipped", f"clipped SGD (γ = {gamma:g})")):
        s = np.minimum(subopt[key], DIVERGED)
        med = np.median(s, axis=1)
        c = COLORS["none" if key == "sgd" else "clip"]
        ax.fill_between(alphas, s.min(axis=1), s.max(axis=1), color=c, alpha=0.2, lw=0)
        ax.loglog(alphas, med, "o-", color=c, label=label)
        bad = med >= DIVERGED
        if bad.any():
            ax.loglog(alphas[bad], med[bad], "x", color="k", ms=9, mew=2)
    ax.axhline(DIVERGED, color=COLORS["grey"], ls=":", lw=1)
    ax.text(alphas[0], DIVERGED * 2, "diverged (inf / nan)", fontsize=8, color=COLORS["grey"])
    ax.set(xlabel="step size α", ylabel=f"f(x_K) − f*  after K = {steps} steps",
           title="least-fourth-power regression: stability across step sizes")
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.legend(loc="center left")
    return save_figure(fig, out / "stability.png", dpi=90)


N, D, GAMMA = 1000, 10, 0.1


def stability_cell(config: dict, ckpt=None) -> dict:
    """Sweep cell: one method ("sgd" / "clipped") at every step size and seed at once (one
    vectorised run: finer cells would cost more in per-step Python than they gain in cores).
    Returns the final iterates and the per-step medians."""
    a, b = make_problem(N, D, np.random.default_rng(config["seed"]))
    rec = MetricsRecorder()
    gamma = GAMMA if config["method"] == "clipped" else None
    x = sgd(a, b, np.asarray(config["alphas"]), config["reps"], config["steps"], gamma,
            np.random.default_rng(config["seed"] + 1), rec, None, True)
    return {"x": x.tolist(), **traces(rec, ("loss", "total_norm", "clipped", "diverged"))}


def run(quick: bool = False, seed: int = 0, out: Path = Path("runs/stability"),
        quiet: bool = False, workers: int | None = None) -> DemoResult:
    """Sweep step sizes 1e-4..1e2 for SGD and clipped SGD (median and range over seeds); the
    (method, step size) grid runs as a sweep on all cores (``workers=0``: in this process)."""
    gamma = GAMMA
    alphas = np.logspace(-4, 2, 7 if quick else 19)
    reps, steps = (3, 1500) if quick else (5, 5000)
    a, b = make_problem(N, D, np.random.default_rng(seed))
    fstar = minimum(a, b)
    rec = MetricsRecorder({"demo": "stability", "seed": seed, "quick": quick, "f_star": fstar})
    configs = [{"method": key, "alphas": alphas.tolist(), "seed": seed, "reps": reps,
                "steps": steps} for key in ("sgd", "clipped")]
    res = fresh_sweep(stability_cell, configs, out, workers, quiet)
    subopt = {}
    for r in res.rows:
        f = np.full((len(alphas), reps), np.inf)
        if r["status"] == "done":
            x = np.array(r["x"], dtype=float)  # non-finite entries came back as strings
            f = objective(a, b, x) - fstar
            record_traces(rec, r["method"], {k: r[k] for k in ("loss", "total_norm",
                                                               "clipped", "diverged")})
        subopt[r["method"]] = np.where(np.isfinite(f), f, np.inf)
    med = {k: np.median(v, axis=1) for k, v in subopt.items()}
    stable = {k: float(alphas[np.isfinite(v)].max()) if np.isfinite(v).any() else 0.0
              for k, v in med.items()}
    rows = [[float(al), float(s), float(c)] for al, s, c in zip(alphas, med["sgd"],
                                                                 med["clipped"], strict=True)]
    summary = {"alphas": alphas.tolist(), "median_subopt_sgd": med["sgd"].tolist(),
               "median_subopt_clipped": med["clipped"].tolist(), "f_star": fstar,
               "gamma": gamma, "largest_stable_alpha": stable,
               "sgd_diverged_alphas": alphas[~np.isfinite(med["sgd"])].tolist(),
               "clipped_diverged_alphas": alphas[~np.isfinite(med["clipped"])].tolist()}
    lines = [f"stability: median f(x_K) - f* after {steps} steps ({reps} seeds)",
             *table(["step size", "SGD", "clipped SGD"], rows)]
    return finish("stability", out, rec, summary, lines,
                  [_plot(out, alphas, subopt, gamma, steps)])
