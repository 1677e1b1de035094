"""A small training-loop driver: records metrics, reports progress, stops cleanly on Ctrl-C."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import interrupt
from .interrupt import reset_stop, stop_requested
from .metrics import MetricsRecorder
from .progress import ProgressReporter

__all__ = ["LoopResult", "run_loop", "stop_requested", "reset_stop"]
# stop_requested / reset_stop: the process-wide stop flag of `lab.interrupt` (set by Ctrl-C;
# later loops return at once), re-exported where loops live.


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
    returned ``stop=True`` ends the loop after that step.  Ctrl-C ends it cleanly: a
    KeyboardInterrupt inside a step, or a stop requested (a Ctrl-C deferred by
    `interrupt.deferred`) before the next one. What was recorded so far is kept,
    ``interrupted`` is set, the cut is counted (`interrupt.cut_count`: a sweep cell running this
    loop is then recorded as interrupted, not finished), and every later ``run_loop`` returns at
    once (so a multi-run demo winds down with partial results) until :func:`reset_stop`.
    """
    if stop_requested():
        if steps > 0:
            interrupt.note_cut()
        return LoopResult(0, True, False, 0.0)
    prog = progress or ProgressReporter(steps, desc=desc or (run or ""), quiet=quiet)
    t0 = time.perf_counter()
    done = 0
    interrupted = stopped = False
    try:
        for step in range(steps):
            if stop_requested():  # a Ctrl-C that the caller deferred
                raise KeyboardInterrupt
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
        interrupted = True
        interrupt.note_cut()
        print(f"\ninterrupted after {done} steps; keeping what was recorded", file=sys.stderr)
    finally:
        prog.close()
    return LoopResult(done, interrupted, stopped, time.perf_counter() - t0)
