"""l0l1: why clipping helps under (L0, L1)-smoothness (Zhang, He, Sra & Jadbabaie, 2020).

A function is (L0, L1)-smooth when ``|f''(x)| <= L0 + L1 |f'(x)|``: curvature may grow with the
gradient, as it does for every polynomial of degree > 2.  Fixed-step gradient descent must take a
step small enough for the largest curvature it can meet, so the iterations it needs grow with the
start distance D like D^2 for f(x) = x^4/4; clipped GD (``h = min(eta, gamma*eta/|f'(x)|)``)
moves a bounded distance per step far away and takes the full step near the minimum, so its cost
grows only ~linearly.  Two functions: x^4/4 and the double well (x^2 - 1)^2 / 4.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..metrics import MetricsRecorder
from ..plotting import COLORS, get_pyplot, safe_plot, save_figure
from ..registry import DemoResult
from ..smoothness import measure_charlm_smoothness
from ._common import finish, table

Fn = Callable[[np.ndarray], np.ndarray]
GRAD_TOL = 1e-2                      # target: |f'(x)| <= GRAD_TOL
START_FRACTIONS = (1.0, 0.8, 0.6)    # starts D * fraction; the worst one counts
STEP_FACTORS = (0.25, 0.5, 1.0, 1.5, 1.9)  # GD tries eta = c / L(D) for each c


@dataclass(frozen=True)
class Poly:
    name: str
    label: str
    grad: Fn
    hess: Fn
    l1: float

    def l0(self, d_max: float) -> float:
        """Smallest L0 with f'' <= L0 + L1 |f'| on [-d_max, d_max] (for the chosen L1)."""
        x = np.linspace(-d_max, d_max, 200_001)
        return float(max(np.max(self.hess(x) - self.l1 * np.abs(self.grad(x))), 1e-3))

    def curvature_bound(self, d: float) -> float:
        """L(D): the largest curvature on [-D, D] (the smoothness GD's step must respect)."""
        x = np.linspace(-d, d, 20_001)
        return float(np.max(np.abs(self.hess(x))))


POLYS = (
    Poly("quartic", "f(x) = x⁴/4", lambda x: x**3, lambda x: 3 * x**2, 1.0),
    Poly("double_well", "f(x) = (x² − 1)²/4", lambda x: x**3 - x, lambda x: 3 * x**2 - 1, 3.0),
)


def iterations(poly: Poly, x0: np.ndarray, eta: np.ndarray, gamma: float | None,
               max_iter: int) -> np.ndarray:
    """Steps until |f'(x)| <= GRAD_TOL for each (start, eta) pair (inf if it diverges or runs
    out of steps).  ``gamma`` set: clipped step ``min(eta, gamma*eta/|f'|)``."""
    x = np.array(x0, np.float64, copy=True)
    eta = np.broadcast_to(np.asarray(eta, np.float64), x.shape)
    count = np.full(x.shape, np.inf)
    idx = np.arange(x.size)
    xf, ef, limit = x.ravel(), eta.ravel(), 10 * np.abs(x).max()
    for k in range(max_iter):
        g = poly.grad(xf[idx])
        done = np.abs(g) <= GRAD_TOL
        count.ravel()[idx[done]] = k
        h = ef[idx]
        if gamma is not None:
            h = np.minimum(h, gamma * h / np.abs(g))
        with np.errstate(over="ignore", invalid="ignore"):
            xn = xf[idx] - h * g
        xf[idx] = xn
        keep = ~done & np.isfinite(xn) & (np.abs(xn) < limit)
        idx = idx[keep]
        if idx.size == 0:
            break
    return count


def compare(poly: Poly, distances: np.ndarray, max_iter: int) -> dict[str, np.ndarray]:
    """Worst-case iterations over the starts for the best safe fixed-step GD and for clipped GD
    with one (eta, gamma) for every distance."""
    starts = distances[:, None, None] * np.array(START_FRACTIONS)[None, None, :]
    lmax = np.array([poly.curvature_bound(d) for d in distances])
    eta = np.array(STEP_FACTORS)[None, :, None] / lmax[:, None, None]
    gd = iterations(poly, np.broadcast_to(starts, eta.shape[:2] + starts.shape[2:]), eta,
                    None, max_iter).max(axis=2).min(axis=1)
    l0 = poly.l0(float(distances.max()))
    eta_c = 1.0 / (2.0 * l0)
    gamma = 1.0 / (2.0 * poly.l1 * eta_c)  # max step length gamma*eta = 1 / (2 L1)
    clipped = iterations(poly, starts[:, 0, :], eta_c, gamma, max_iter).max(axis=1)
    return {"gd": gd, "clipped": clipped, "l0": np.array(l0), "eta_c": np.array(eta_c),
            "gamma": np.array(gamma)}


def _slope(d: np.ndarray, n: np.ndarray) -> float:
    ok = np.isfinite(n) & (d >= np.sqrt(d.min() * d.max()))  # fit the large-D half
    return float(np.polyfit(np.log(d[ok]), np.log(n[ok]), 1)[0]) if ok.sum() >= 2 else np.nan


@safe_plot
def _plot(out: Path, distances: np.ndarray, res: dict) -> Path | None:
    plt = get_pyplot()
    if plt is None:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    for ax, poly in zip(axes[:2], POLYS, strict=True):
        r = res[poly.name]
        ax.loglog(distances, r["gd"], "o-", color=COLORS["none"],
                  label=f"GD, best safe fixed step (slope {r['slope_gd']:.2f})")
        ax.loglog(distances, r["clipped"], "s-", color=COLORS["clip"],
                  label=f"clipped GD, one setting (slope {r['slope_clipped']:.2f})")
        for p, ls in ((2, ":"), (1, "--")):
            ref = r["gd" if p == 2 else "clipped"][-1] * (distances / distances[-1]) ** p
            ax.loglog(distances, ref, ls, color=COLORS["grey"], lw=1, label=f"∝ D^{p}")
        ax.set(xlabel="start distance D", ylabel=f"iterations to |f'(x)| ≤ {GRAD_TOL:g}",
               title=poly.label)
        ax.set_xticks(distances, [f"{d:.3g}" for d in distances])
        ax.minorticks_off()
        ax.grid(alpha=0.3, which="both", lw=0.5)
        ax.legend(fontsize=8)
    ax = axes[2]
    x = np.linspace(0.02, distances.max(), 4000)
    for poly, c in zip(POLYS, (COLORS["clip"], COLORS["alt"]), strict=True):
        g, h = np.abs(poly.grad(x)), np.abs(poly.hess(x))
        ax.loglog(g, h, ".", ms=1.5, color=c, label=poly.label)
        gg = np.logspace(np.log10(max(g.min(), 1e-4)), np.log10(g.max()), 50)
        ax.loglog(gg, res[poly.name]["l0"] + poly.l1 * gg, "--", color=c, lw=1,
                  label=f"L0 + L1·|f'|, L0={float(res[poly.name]['l0']):.2g}, L1={poly.l1:g}")
    ax.set(xlabel="|f'(x)|", ylabel="|f''(x)| (local smoothness)",
           title="curvature grows with the gradient")
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.legend(fontsize=8)
    fig.suptitle("(L0,L1)-smoothness: fixed-step GD pays ~D² iterations, clipped GD ~D",
                 fontsize=11)
    return save_figure(fig, out / "l0l1.png", dpi=80)


def _charlm_part(out: Path, seed: int, steps: int, rec: MetricsRecorder, quiet: bool
                 ) -> tuple[dict, Path | None]:
    """Zhang et al.'s Fig. 1 measurement on the char LSTM, without and with clipping."""
    runs = {"SGD": "none", "SGD + norm clip 0.25": "norm:0.25"}
    data = {name: measure_charlm_smoothness(clip, steps, seed, rec, f"charlm {name}", quiet,
                                            lr=5.0)
            for name, clip in runs.items()}
    fits = {}
    for name, d in data.items():
        ok = np.isfinite(d["smoothness"]) & (d["smoothness"] > 0) & (d["grad_norm"] > 0)
        fits[name] = float(np.corrcoef(np.log(d["grad_norm"][ok]),
                                       np.log(d["smoothness"][ok]))[0, 1])
    plt = get_pyplot(warn=False)
    if plt is None:
        return fits, None
    fig, ax = plt.subplots(figsize=(6.2, 4.6))
    for (name, d), c in zip(data.items(), (COLORS["none"], COLORS["clip"]), strict=True):
        ax.loglog(d["grad_norm"], d["smoothness"], ".", ms=4, alpha=0.6, color=c,
                  label=f"{name} (log-log corr {fits[name]:.2f})")
    ax.set(xlabel="gradient norm ‖∇f(x)‖", ylabel="local smoothness L̂",
           title=f"char LSTM, {steps} SGD steps (lr 5): smoothness vs gradient norm")
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.legend(fontsize=8)
    return fits, save_figure(fig, out / "l0l1_charlm.png", dpi=90)


def run(quick: bool = False, seed: int = 0, out: Path = Path("runs/l0l1"),
        quiet: bool = False) -> DemoResult:
    """Iterations vs start distance for GD and clipped GD on two polynomials; full mode adds the
    char-LSTM smoothness measurement (300 SGD steps with and without clipping)."""
    distances = np.logspace(0.5, 1.5, 5) if quick else np.logspace(0.3, 2.0, 9)
    max_iter = 60_000 if quick else 400_000
    rec = MetricsRecorder({"demo": "l0l1", "quick": quick, "grad_tol": GRAD_TOL})
    res, rows, summary = {}, [], {}
    for poly in POLYS:
        r = compare(poly, distances, max_iter)
        r["slope_gd"], r["slope_clipped"] = _slope(distances, r["gd"]), _slope(distances,
                                                                                r["clipped"])
        res[poly.name] = r
        for d, a, b in zip(distances, r["gd"], r["clipped"], strict=True):
            rec.record(run=poly.name, distance=float(d), gd_iterations=float(a),
                       clipped_iterations=float(b))
            rows.append([poly.name, float(d), float(a), float(b)])
        summary[poly.name] = {"slope_gd": r["slope_gd"], "slope_clipped": r["slope_clipped"],
                              "L0": float(r["l0"]), "L1": poly.l1,
                              "eta_clipped": float(r["eta_c"]), "gamma": float(r["gamma"])}
    lines = ["l0l1: iterations to reach |f'(x)| <= 1e-2 (worst of starts 0.6D..D)",
             *table(["function", "D", "GD", "clipped GD"], rows),
             *(f"{p.name}: log-log slope GD {res[p.name]['slope_gd']:.2f}, clipped "
               f"{res[p.name]['slope_clipped']:.2f}" for p in POLYS)]
    figs = [_plot(out, distances, res)]
    if not quick:
        fits, fig = _charlm_part(out, seed, 300, rec, quiet)
        summary["charlm_loglog_corr"] = fits
        lines.append("char LSTM: log-log correlation of smoothness and gradient norm: "
                     + ", ".join(f"{k} {v:.2f}" for k, v in fits.items()))
        figs.append(fig)
    return finish("l0l1", out, rec, summary, lines, figs)
