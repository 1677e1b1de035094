"""Ctrl-C in tinyclipnn: always counted, deferred where finished work must still be written,
never able to split a write.

Process-wide state, kept here and nowhere else:

- `sigint_count`: every SIGINT a tinyclipnn handler saw in this process. The CLI compares it
  before and after a command, so the command exits 130 even when a loop caught the
  KeyboardInterrupt and returned normally.
- the stop flag (`stop_requested`, `reset_stop`): set by a Ctrl-C (except inside an
  `InterruptGuard`, whose loop decides itself where to stop) and by `note_cut`; `run_loop` ends
  at its next step and later loops return at once.
- `cut_count`: work cut short (a loop that stopped before its last step, a sweep left with
  unfinished cells). A sweep cell during which it grew, or `sigint_count` grew, is recorded as
  interrupted, never as finished, whatever the cell returned.

Handlers, each a context manager installed in the main thread over Python's default handler
or another of these (a handler someone else installed is left alone), and restored on exit:

- `raising`: Python's behaviour (KeyboardInterrupt at once), counted. Every CLI command and every
  sweep cell runs in it.
- `deferred`: the first Ctrl-C only requests a stop; a second one raises. Demos and the sweep
  runner run in it, so what they finished (figures, summaries, tables) is still written.
- `InterruptGuard`: `deferred` plus `check`, which raises at the start of a training step: a
  KeyboardInterrupt in the middle of ``optimizer.step()`` would leave half the parameters
  updated, and one after the batch was drawn would leave the data generator ahead of the step
  count, so a checkpoint written afterwards could not be resumed exactly.
- `shielded`: no KeyboardInterrupt inside (a checkpoint plus its metrics: one unit); the Ctrl-Cs
  it held are handed to the enclosing handler on exit, which may then raise.
- `ignore_between_cells`: a sweep worker process between cells: counted, nothing raised.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType

__all__ = ["InterruptGuard", "cut_count", "deferred", "ignore_between_cells", "note_cut",
           "raising", "reset_stop", "shielded", "sigint_count",
           "stop_requested"]

_STATE = {"sigints": 0, "cuts": 0, "stop": False}


def sigint_count() -> int:
    """SIGINTs seen by tinyclipnn's handlers in this process (never reset)."""
    return _STATE["sigints"]


def cut_count() -> int:
    """How often work was cut short in this process (never reset)."""
    return _STATE["cuts"]


def stop_requested() -> bool:
    """True after a Ctrl-C or a cut (until `reset_stop`): loops should end."""
    return bool(_STATE["stop"])


def note_cut() -> None:
    """Record that work was cut short (and request a stop)."""
    _STATE["cuts"] += 1
    _STATE["stop"] = True


def reset_stop() -> None:
    """Forget an earlier stop request (a new command or sweep cell starts)."""
    _STATE["stop"] = False


def _received(stop: bool = True) -> None:
    _STATE["sigints"] += 1
    if stop:
        _STATE["stop"] = True


class _Handler:
    """Base: installs ``_on_sigint`` on enter (main thread; over the default handler or one of
    ours) and restores the previous handler on exit. ``received``: SIGINTs since enter."""

    def __init__(self) -> None:
        self._previous: object = None
        self._installed = False
        self._start = 0

    @property
    def received(self) -> int:
        return sigint_count() - self._start

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:  # pragma: no cover
        raise NotImplementedError

    def __enter__(self):
        self._start = sigint_count()
        self._installed = False
        if threading.current_thread() is threading.main_thread():
            current = signal.getsignal(signal.SIGINT)
            if current is signal.default_int_handler or _is_ours(current):
                self._previous = signal.signal(signal.SIGINT, self._on_sigint)
                self._installed = True
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False


def _is_ours(handler: object) -> bool:
    return isinstance(getattr(handler, "__self__", None), _Handler)


class raising(_Handler):  # noqa: N801 - used like a function: `with raising():`
    """Ctrl-C raises KeyboardInterrupt at once (and is counted)."""

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        _received()
        raise KeyboardInterrupt


class deferred(_Handler):  # noqa: N801
    """The first Ctrl-C sets `pending` and requests a stop; the next one raises."""

    requests_stop = True  # a Ctrl-C sets the process-wide stop flag

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    @property
    def pending(self) -> bool:
        return self.count > 0

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        _received(stop=self.requests_stop)
        self.count += 1
        if self.count > 1:
            raise KeyboardInterrupt

    def __enter__(self):
        self.count = 0
        return super().__enter__()


class InterruptGuard(deferred):
    """`deferred` for a training loop: call `check` at the start of each step. The first
    Ctrl-C only sets `pending` (no stop request)."""

    # no stop request: the loop stops where `check` says (data-parallel ranks agree on the
    # step first), not wherever `run_loop` next looks at the flag
    requests_stop = False

    def check(self) -> None:
        """Raise KeyboardInterrupt if Ctrl-C was pressed since entering."""
        if self.pending:
            raise KeyboardInterrupt


class shielded(_Handler):  # noqa: N801
    """No KeyboardInterrupt inside; on a normal exit the held Ctrl-Cs go to the enclosing
    handler (which may raise then), otherwise they are only counted."""

    def __init__(self) -> None:
        super().__init__()
        self.held = 0

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self.held += 1

    def __enter__(self):
        self.held = 0
        return super().__enter__()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        previous, installed = self._previous, self._installed
        super().__exit__(exc_type, exc, tb)
        held, self.held = self.held, 0
        if not installed:
            return
        for _ in range(held):
            if exc_type is None and _is_ours(previous):
                previous(signal.SIGINT, None)  # may raise KeyboardInterrupt: after the write
            else:
                _received()
                if exc_type is None:  # Python's default handler
                    raise KeyboardInterrupt


class _Ignoring(_Handler):
    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        _received()


def ignore_between_cells() -> None:
    """Install, for good, a handler that only counts Ctrl-C (a sweep worker process: its
    cells run in `raising`, and a SIGINT between cells must not kill the worker)."""
    _Ignoring().__enter__()
