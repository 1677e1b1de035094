"""Ctrl-C between training steps, never inside one.

A KeyboardInterrupt raised in the middle of ``optimizer.step()`` leaves half the parameters
updated, and one raised after the batch was drawn leaves the data generator ahead of the step
count: either way a checkpoint written afterwards could not be resumed exactly. Inside
`InterruptGuard` the first Ctrl-C only sets a flag; the training loop calls `check` at the start
of each step, which raises KeyboardInterrupt there. A second Ctrl-C raises at once.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType

__all__ = ["InterruptGuard"]


class InterruptGuard:
    """Context manager deferring SIGINT to `check` (main thread only; elsewhere, and when the
    process ignores SIGINT or has its own handler, it changes nothing)."""

    def __init__(self) -> None:
        self.pending = False
        self._previous = None

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.pending:
            raise KeyboardInterrupt
        self.pending = True

    def check(self) -> None:
        """Raise KeyboardInterrupt if Ctrl-C was pressed since entering."""
        if self.pending:
            raise KeyboardInterrupt

    def __enter__(self) -> InterruptGuard:
        self.pending = False
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
