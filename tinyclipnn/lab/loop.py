"""A small training-loop driver: records metrics, reports progress, stops cleanly on Ctrl-C."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .metrics import MetricsRecorder
from .progress import ProgressReporter

__all__ = ["LoopResult", "run_loop", "stop_requested", "request_stop", "reset_stop"]

_STOP = [False]  # set by Ctrl-C: later loops of the same demo return at once


def stop_requested() -> bool:
    """True after a loop was interrupted by Ctrl-C (until :func:`reset_stop`)."""
    return _STOP[0]


def request_stop() -> None:
    """Record a Ctrl-C caught elsewhere (a sweep): later loops return at once, and the demo
    runner reports the run as interrupted."""
    _STOP[0] = True


def reset_stop() -> None:
    """Forget an earlier Ctrl-C (called when a new demo or command starts)."""
    _STOP[0] = False


@dataclass
class LoopResult:
    """What a loop did: steps completed, whether Ctrl-C or the step function stopped it, time."""

    steps: int
    interrupted: bool
    stopped: bool
    seconds: float

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else 0.0


def run_loop(
    step_fn: Callable[[int], dict[str, Any]],
    steps: int,
    recorder: MetricsRecorder | None = None,
    run: str | None = None,
    desc: str = "",
    quiet: bool = False,
    progress: ProgressReporter | None = None,
) -> LoopResult:
    """Call ``step_fn(step)`` for each ``step`` in ``range(steps)``.

    ``step_fn`` returns a dict of the step's values (``loss``, ``total_norm``, ``coef``,
    ``clipped``, anything else); each is recorded as one row (with ``run`` and ``step``).  A
    returned ``stop=True`` ends the loop after that step.  Ctrl-C ends it cleanly between steps:
    what was recorded so far is kept, ``interrupted`` is set, and every later ``run_loop`` returns
    at once (so a multi-run demo winds down with partial results) until :func:`reset_stop`.
    """
    if _STOP[0]:
        return LoopResult(0, True, False, 0.0)
    prog = progress or ProgressReporter(steps, desc=desc or (run or ""), quiet=quiet)
    t0 = time.perf_counter()
    done = 0
    interrupted = stopped = False
    try:
        for step in range(steps):
            values = dict(step_fn(step))
            stop = bool(values.pop("stop", False))
            if recorder is not None:
                row = {"run": run} if run is not None else {}
                row["step"] = step
                row.update(values)
                recorder.record(**row)
            done += 1
            prog.update(values.get("loss", math.nan), values.get("total_norm", math.nan),
                        float(values.get("clipped", False)))
            if stop:
                stopped = True
                break
    except KeyboardInterrupt:
        interrupted = _STOP[0] = True
        print(f"\ninterrupted after {done} steps; keeping what was recorded", file=sys.stderr)
    finally:
        prog.close()
    return LoopResult(done, interrupted, stopped, time.perf_counter() - t0)
