"""Progress reporting for long runs: tqdm when installed, plain periodic lines otherwise."""

from __future__ import annotations

import math
import sys
import time
from typing import IO

__all__ = ["ProgressReporter"]


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return str(v)
    return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.2e}"


class ProgressReporter:
    """Shows steps/s, loss, gradient norm and the fraction of steps clipped so far.

    ``use_tqdm=None`` picks tqdm when it is importable and the stream is a terminal; otherwise a
    line is printed every ``every`` steps (default: about 10 lines per run) but at most once per
    ``min_interval`` seconds, and at the end.
    ``quiet=True`` prints nothing.
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
        self._last_print = time.perf_counter()
        self.steps = 0
        self.n_clipped = 0
        self.loss = math.nan
        self.norm = math.nan
        self.start = time.perf_counter()
        self._bar = None
        if not quiet and use_tqdm is not False:
            is_tty = getattr(self.stream, "isatty", lambda: False)()
            if use_tqdm or is_tty:
                try:
                    from tqdm.auto import tqdm
                except ImportError:
                    tqdm = None
                if tqdm is not None:
                    self._bar = tqdm(total=self.total, desc=desc, file=self.stream,
                                     leave=False, dynamic_ncols=True)

    @property
    def frac_clipped(self) -> float:
        return self.n_clipped / self.steps if self.steps else 0.0

    @property
    def steps_per_s(self) -> float:
        dt = time.perf_counter() - self.start
        return self.steps / dt if dt > 0 else 0.0

    def status(self) -> str:
        """One-line status text."""
        return (f"{self.desc + ' ' if self.desc else ''}step {self.steps}/{self.total} "
                f"| {self.steps_per_s:.1f} steps/s | loss {_fmt(self.loss)} "
                f"| grad norm {_fmt(self.norm)} | clipped {100 * self.frac_clipped:.0f}%")

    def update(self, loss: float = math.nan, total_norm: float = math.nan,
               clipped: float = False) -> None:
        """Count one step with its loss, gradient norm and whether it was clipped (a bool, or a
        fraction when one step covers several runs)."""
        self.steps += 1
        self.loss, self.norm = float(loss), float(total_norm)
        self.n_clipped += float(clipped)
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.update(1)
            if self.steps % self.every == 0 or self.steps == self.total:
                self._bar.set_postfix(loss=_fmt(self.loss), norm=_fmt(self.norm),
                                      clipped=f"{100 * self.frac_clipped:.0f}%")
        elif self.steps == self.total or (
                self.steps % self.every == 0
                and time.perf_counter() - self._last_print >= self.min_interval):
            self._last_print = time.perf_counter()
            print(self.status(), file=self.stream, flush=True)

    def close(self) -> None:
        """Finish the bar (tqdm) or do nothing (plain lines)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
