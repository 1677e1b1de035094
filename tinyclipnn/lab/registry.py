"""The demo registry: name -> implementation module, loaded only when the demo runs."""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .interrupt import cut_count, deferred, reset_stop, shielded
from .metrics import to_jsonable

__all__ = ["DemoInfo", "DemoResult", "DEMOS", "FLAGSHIP", "list_demos", "get_demo", "run_demo"]


@dataclass(frozen=True)
class DemoInfo:
    """A registered demo: its name, implementing module (exposing ``run(quick, seed, out,
    quiet)``) and a one-line summary."""

    name: str
    module: str
    summary: str


@dataclass
class DemoResult:
    """What a demo produced: headline numbers, figure and metrics paths, a text summary;
    ``interrupted``: Ctrl-C was pressed while it ran; ``partial``: some of its work was cut
    short (so its numbers cover less than the demo's full budget)."""

    name: str
    summary: dict[str, Any] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    text: str = ""
    seconds: float = 0.0
    interrupted: bool = False
    partial: bool = False


_PKG = "tinyclipnn.lab.demos."
DEMOS: dict[str, DemoInfo] = {
    d.name: d
    for d in (
        DemoInfo("exploding", _PKG + "exploding",
                 "tanh RNN, temporal order at T = 20, same lr, 8 seeds: clipped SGD learns, "
                 "plain SGD does not (Pascanu et al. 2013)"),
        DemoInfo("cliff", _PKG + "cliff",
                 "one-neuron RNN loss surface with its cliff; GD with and without clipping"),
        DemoInfo("l0l1", _PKG + "l0l1",
                 "(L0,L1)-smoothness: GD vs clipped GD on x^4/4 and a double well (Zhang et al. 2020)"),
        DemoInfo("stability", _PKG + "stability",
                 "SGD vs clipped SGD over step sizes 1e-4..1e2 on a 4th-power regression "
                 "(Mai & Johansson 2021)"),
        DemoInfo("spirals", _PKG + "spirals",
                 "MLP on the spirals task with global-norm clipping: the quickstart run"),
        DemoInfo("gradflow", _PKG + "gradflow",
                 "||dL/dh_t|| across time for RNN vs LSTM vs GRU, at init and after training"),
        DemoInfo("charlm", _PKG + "charlm",
                 "character LSTM trained with each clipping method: loss, norms, bits/char"),
        DemoInfo("dp", _PKG + "dp",
                 "per-sample clipping (DP-SGD): accuracy vs clip norm and noise multiplier"),
    )
}
FLAGSHIP = "exploding"


def list_demos() -> list[DemoInfo]:
    """All registered demos, flagship first."""
    return list(DEMOS.values())


def get_demo(name: str) -> DemoInfo:
    """The demo called ``name``; ``ValueError`` listing the known names otherwise."""
    if name not in DEMOS:
        raise ValueError(f"demo must be one of {', '.join(DEMOS)}; got {name!r}")
    return DEMOS[name]


def default_out(name: str) -> Path:
    """Default output folder ``runs/<name>`` in the current directory."""
    return Path("runs") / name


def run_demo(name: str = FLAGSHIP, quick: bool = False, seed: int = 0,
             out: str | os.PathLike | None = None, quiet: bool = False) -> DemoResult:
    """Run a demo, writing its metrics, plots and ``summary.json`` into ``out``.

    Ctrl-C is deferred (`interrupt.deferred`): the first one stops the demo's training loops at
    their next step (later ones are skipped) and the demo still writes everything it finished:
    metrics of every completed step, figures and ``summary.json`` (``interrupted``, ``partial``),
    also when the Ctrl-C came after the last step. A second Ctrl-C raises at once. The result's
    ``interrupted`` tells the CLI to exit 130."""
    info = get_demo(name)
    out_dir = Path(out) if out is not None else default_out(name)
    out_dir.mkdir(parents=True, exist_ok=True)
    module = importlib.import_module(info.module)
    reset_stop()
    cuts = cut_count()
    with deferred() as ctrl_c:
        t0 = time.perf_counter()
        result: DemoResult = module.run(quick=quick, seed=seed, out=out_dir, quiet=quiet)
        result.seconds = time.perf_counter() - t0
        result.partial = cut_count() > cuts
        result.interrupted = bool(ctrl_c.received) or result.partial
        doc = {"demo": name, "quick": quick, "seed": seed, "interrupted": result.interrupted,
               "partial": result.partial, "seconds": round(result.seconds, 2),
               "summary": result.summary, "figures": result.figures, "files": result.files}
        with shielded():
            (out_dir / "summary.json").write_text(json.dumps(to_jsonable(doc), indent=2,
                                                             allow_nan=False))
        if not quiet:
            print(result.text, file=sys.stdout)
            for p in result.figures:
                print(f"figure: {p}")
            note = (" — interrupted: partial results" if result.partial else
                    " — interrupted after the last step: results complete"
                    if result.interrupted else "")
            print(f"results in {out_dir}/ ({result.seconds:.1f} s){note}")
    return result
