"""Experiment plumbing shared by the CLI and the demos: metrics recording, progress, a
Ctrl-C-safe loop, ``--clip`` parsing, optional plotting and the demo registry.

Importing this package is cheap: matplotlib and the demos load only when used.
"""

from .clipspec import CLIP_METHODS, ClipSpec, parse_clip
from .loop import LoopResult, run_loop
from .metrics import MetricsRecorder
from .plotting import PLOT_HINT, get_pyplot, have_matplotlib
from .progress import ProgressReporter
from .registry import DEMOS, FLAGSHIP, DemoInfo, DemoResult, get_demo, list_demos, run_demo

__all__ = [
    "CLIP_METHODS", "ClipSpec", "parse_clip", "LoopResult", "run_loop",
    "MetricsRecorder", "PLOT_HINT", "get_pyplot", "have_matplotlib", "ProgressReporter", "DEMOS",
    "FLAGSHIP", "DemoInfo", "DemoResult", "get_demo", "list_demos", "run_demo",
]
