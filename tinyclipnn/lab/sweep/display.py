"""The sweep's one progress line: cells done, running, failed, and an ETA."""

from __future__ import annotations

import sys
import time
from typing import IO

from ..progress import format_duration


class SweepDisplay:
    """Rewrites one status line (a terminal) or prints one every ``interval`` seconds (a log).

    ETA: work done in this launch (finished cells plus the fractions of running ones, from their
    progress files) per second, applied to the work left."""

    def __init__(self, total: int, skipped: int, workers: int, quiet: bool = False,
                 stream: IO[str] | None = None, interval: float = 10.0) -> None:
        self.total, self.skipped, self.workers = total, skipped, workers
        self.stream = stream if stream is not None else sys.stderr
        self.quiet, self.interval = quiet, interval
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = time.monotonic()
        self._last = -1e9
        self._line = ""

    def line(self, done: int, running: list[float], failed: int) -> str:
        """``done`` finished now (skipped ones included), ``running`` their fractions done."""
        work = (done - self.skipped) + sum(running)
        left = self.total - done - failed - sum(running)
        rate = work / max(time.monotonic() - self.t0, 1e-9)
        eta = left / rate if rate > 0 else float("nan")
        s = (f"sweep: {done}/{self.total} cells done ({self.skipped} from an earlier launch), "
             f"{len(running)} running, {failed} failed, elapsed "
             f"{format_duration(time.monotonic() - self.t0)}, ETA "
             f"{format_duration(eta) if left > 0 else '0s'}")
        return s

    def update(self, done: int, running: list[float], failed: int, force: bool = False) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if not force and now - self._last < (0.5 if self.tty else self.interval):
            return
        self._last = now
        self._line = self.line(done, running, failed)
        if self.tty:
            self.stream.write("\r" + self._line.ljust(100))
        else:
            self.stream.write(self._line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if not self.quiet and self.tty:
            self.stream.write("\n")
            self.stream.flush()
