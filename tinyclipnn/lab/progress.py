"""Progress reporting for long runs: tqdm when installed, plain periodic lines otherwise."""

from __future__ import annotations

import math
import sys
import time
from typing import IO

__all__ = ["ProgressReporter", "format_duration"]


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return str(v)
    return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.2e}"


_now = time.perf_counter  # the clock (a module global, so tests can drive it)


def format_duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m`` (``?`` when not finite)."""
    if not math.isfinite(seconds):
        return "?"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class ProgressReporter:
    """Shows steps/s, loss, gradient norm, the fraction of steps clipped so far and the time left.

    ``use_tqdm=None`` picks tqdm when it is importable and the stream is a terminal; otherwise a
    line is printed every ``every`` steps (default: about 10 lines per run) but at most once per
    ``min_interval`` seconds, and at the end.
    ``quiet=True`` prints nothing.

    Rates and the ETA count from the end of the first step: a process's first step may compile
    kernels (seconds, once: they are cached for later runs), which would otherwise make the
    first ETA hours long. The tqdm bar is created once that step is done, starting at 1.
    """

    def __init__(self, total: int, desc: str = "", every: int | None = None,
                 stream: IO[str] | None = None, use_tqdm: bool | None = None,
                 quiet: bool = False, min_interval: float = 2.0) -> None:
        self.total = int(total)
        self.desc = desc
        self.every = max(1, every if every is not None else self.total // 10 or 1)
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.min_interval = min_interval
        self._last_print = _now()
        self.steps = 0
        self.n_clipped = 0
        self.loss = math.nan
        self.norm = math.nan
        self.start = _now()
        self._first_done: float | None = None  # when step 1 ended: rates count from there
        self._bar = None
        self._tqdm = None  # the tqdm class, when a bar is to be shown after the first step
        if not quiet and use_tqdm is not False:
            is_tty = getattr(self.stream, "isatty", lambda: False)()
            if use_tqdm or is_tty:
                try:
                    from tqdm.auto import tqdm
                except ImportError:
                    tqdm = None
                self._tqdm = tqdm

    @property
    def frac_clipped(self) -> float:
        return self.n_clipped / self.steps if self.steps else 0.0

    @property
    def steps_per_s(self) -> float:
        """Steps per second, the first step left out once a second one is done."""
        now = _now()
        if self.steps >= 2 and self._first_done is not None:
            dt, n = now - self._first_done, self.steps - 1
        else:
            dt, n = now - self.start, self.steps
        return n / dt if dt > 0 else 0.0

    @property
    def eta_s(self) -> float:
        """Seconds left at the current rate (NaN until two steps are done: the first one's
        time includes any kernel compilation)."""
        rate = self.steps_per_s
        if self.steps < 2 or rate <= 0:
            return math.nan
        return max(self.total - self.steps, 0) / rate

    def status(self) -> str:
        """One-line status text."""
        eta = self.eta_s
        left = f" | eta {format_duration(eta)}" if math.isfinite(eta) and self.steps < self.total else ""
        return (f"{self.desc + ' ' if self.desc else ''}step {self.steps}/{self.total} "
                f"| {self.steps_per_s:.1f} steps/s | loss {_fmt(self.loss)} "
                f"| grad norm {_fmt(self.norm)} | clipped {100 * self.frac_clipped:.0f}%{left}")

    def update(self, loss: float = math.nan, total_norm: float = math.nan,
               clipped: float = False) -> None:
        """Count one step with its loss, gradient norm and whether it was clipped (a bool, or a
        fraction when one step covers several runs)."""
        self.steps += 1
        self.loss, self.norm = float(loss), float(total_norm)
        self.n_clipped += float(clipped)
        if self.steps == 1:
            self._first_done = _now()
        if self.quiet:
            return
        if self._tqdm is not None and self._bar is None:  # after the first step: see class doc
            self._bar = self._tqdm(total=self.total, initial=self.steps, desc=self.desc,
                                   file=self.stream, leave=False, dynamic_ncols=True)
        elif self._bar is not None:
            self._bar.update(1)
        if self._bar is not None:
            if self.steps % self.every == 0 or self.steps == self.total:
                self._bar.set_postfix(loss=_fmt(self.loss), norm=_fmt(self.norm),
                                      clipped=f"{100 * self.frac_clipped:.0f}%")
        elif self.steps == self.total or (
                self.steps % self.every == 0
                and _now() - self._last_print >= self.min_interval):
            self._last_print = _now()
            print(self.status(), file=self.stream, flush=True)

    def close(self) -> None:
        """Finish the bar (tqdm) or do nothing (plain lines)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._tqdm = None
