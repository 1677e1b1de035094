"""Optional matplotlib plotting.  Nothing here imports matplotlib until a plot is drawn, and
without matplotlib the callers get ``None`` plus a clear message how to get plots."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .metrics import MetricsRecorder

__all__ = ["PLOT_HINT", "have_matplotlib", "get_pyplot", "save_figure", "plot_traces",
           "COLORS", "smooth", "safe_plot"]

PLOT_HINT = ("matplotlib is not installed, so no PNG plots were drawn (metrics.csv/json were "
             "written). For plots: pip install 'tinyclipnn[plot]'")

# one colour per role, used by every demo so that figures read alike
COLORS = {"none": "#d62728", "clip": "#1f77b4", "alt": "#2ca02c", "extra": "#9467bd",
          "grey": "#7f7f7f"}


F = TypeVar("F", bound=Callable[..., Any])


def safe_plot(fn: F) -> F:
    """Decorator for figure functions: a plotting failure (e.g. a run interrupted before it
    recorded anything) prints a warning and returns None instead of losing the run's results."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - never let a figure kill a finished run
            print(f"warning: could not draw {fn.__module__}.{fn.__name__}: "
                  f"{type(e).__name__}: {e}", file=sys.stderr)
            try:
                import matplotlib.pyplot as plt

                plt.close("all")
            except ImportError:
                pass
            return None

    return wrapper  # type: ignore[return-value]


def have_matplotlib() -> bool:
    """True when matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def get_pyplot(warn: bool = True) -> Any | None:
    """``matplotlib.pyplot`` on the non-interactive Agg backend, or ``None`` (printing
    :data:`PLOT_HINT` to stderr when ``warn``) if matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        if warn:
            print(PLOT_HINT, file=sys.stderr)
        return None
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Save ``fig`` as PNG (parent folder created) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average over ``window`` steps (NaNs ignored); ``y`` unchanged if short."""
    if window <= 1 or len(y) < window:
        return y
    finite = np.where(np.isfinite(y), y, np.nan)
    pad = np.concatenate([np.full(window - 1, finite[0]), finite])
    csum = np.nancumsum(pad)
    return (csum[window - 1:] - np.concatenate([[0.0], csum[:-window]])) / window


@safe_plot
def plot_traces(recorder: MetricsRecorder, path: str | os.PathLike, title: str = "",
                runs: list[str] | None = None, colors: dict[str, str] | None = None,
                smooth_window: int = 1) -> Path | None:
    """Loss and gradient norm per step for each run (log scale; clipped steps marked).
    Returns the PNG path or ``None`` without matplotlib."""
    plt = get_pyplot()
    if plt is None:
        return None
    fig, (ax_l, ax_n) = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, run in enumerate(runs or recorder.runs()):
        c = (colors or {}).get(run, f"C{i}")
        step = recorder.column("step", run)
        loss = recorder.column("loss", run)
        norm = recorder.column("total_norm", run)
        clipped = recorder.column("clipped", run) > 0
        ax_l.plot(step, smooth(loss, smooth_window), color=c, lw=1.2, label=run)
        ax_n.plot(step, norm, color=c, lw=0.8, alpha=0.85, label=run)
        if clipped.any():
            ax_n.plot(step[clipped], norm[clipped], ".", color=c, ms=2.5)
    ax_l.set(yscale="log", xlabel="step", ylabel="training loss", title="loss")
    ax_n.set(yscale="log", xlabel="step", ylabel="‖g‖₂ before clipping",
             title="gradient norm (dots: clipped steps)")
    ax_l.legend(fontsize=8)
    for ax in (ax_l, ax_n):
        ax.grid(alpha=0.3, which="both", lw=0.5)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)
