"""Whether ops record a graph: `no_grad`, `enable_grad`, `inference_mode` (per thread)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

_state = threading.local()


def is_grad_enabled() -> bool:
    """True unless inside `no_grad()`."""
    return getattr(_state, "enabled", True)


@contextmanager
def _recording(enabled: bool) -> Iterator[None]:
    previous = is_grad_enabled()
    _state.enabled = enabled
    try:
        yield
    finally:
        _state.enabled = previous


def no_grad() -> AbstractContextManager[None]:
    """Context manager: ops inside record no graph (as ``torch.no_grad``)."""
    return _recording(False)


def enable_grad() -> AbstractContextManager[None]:
    """Context manager that turns graph recording back on inside `no_grad()`."""
    return _recording(True)


def is_inference_mode_enabled() -> bool:
    """True inside `inference_mode()` (as ``torch.is_inference_mode_enabled``)."""
    return getattr(_state, "inference", False)


class inference_mode:  # noqa: N801  (PyTorch's name)
    """Context manager and decorator for evaluation code (``torch.inference_mode``): no graph
    is recorded, as under `no_grad` (tinyclipnn has no cheaper mode to switch to).

    ``inference_mode(False)`` turns inference mode off and graph recording on, as PyTorch's
    does. Use as ``with tc.inference_mode():``, ``@tc.inference_mode()`` or
    ``@tc.inference_mode``."""

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode) and not isinstance(mode, bool):  # @inference_mode without ()
            return cls(True)(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)
        self._saved: list[tuple[bool, bool]] = []

    def __enter__(self) -> None:
        self._saved.append((is_grad_enabled(), is_inference_mode_enabled()))
        _state.enabled, _state.inference = not self.mode, self.mode

    def __exit__(self, *exc: Any) -> None:
        _state.enabled, _state.inference = self._saved.pop()

    def __call__(self, fn: Any) -> Any:
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper

    def clone(self) -> inference_mode:
        return inference_mode(self.mode)
