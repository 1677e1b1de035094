"""``Clipper``: the base of the clip methods, ``clipper(parameters) -> ClipReport``.

Each clipping method is one ``Clipper`` subclass that owns its arguments (checked in its
constructor), its state and its step; the public function of the method is a thin call of it.
Any clipper (or ``functools.partial(clip_grad_norm_, max_norm=1.0)``) can be handed to an
optimizer as ``clipper=``: the optimizer calls it on its parameter list before each step, keeps
the returned ``ClipReport`` as ``optimizer.last_clip`` and skips the step when the report says
``skipped``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from .._validate import Rule, check_state
from .monitor import GradMonitor
from .report import ClipReport


class Clipper:
    """Base class: ``__call__(parameters)`` clips in place and returns a ``ClipReport``
    (recorded by ``monitor`` when there is one)."""

    backend: str = "auto"
    monitor: GradMonitor | None = None
    _STATE: ClassVar[Mapping[str, Rule]] = {}  # state_dict() keys and each one's rule

    def __call__(self, parameters: Any) -> ClipReport:
        rep = self._clip(parameters)
        if self.monitor is not None:
            self.monitor.record(rep)
        return rep

    def _clip(self, parameters: Any) -> ClipReport:
        raise NotImplementedError

    @property
    def _per_tensor(self) -> bool:
        return self.monitor is not None and self.monitor.wants_per_tensor

    def state_dict(self) -> dict[str, Any]:
        """State to checkpoint (stateless clippers have none)."""
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore ``state_dict()`` output. Every field is checked first, with the rules the
        constructor applies (types, ranges, finiteness; a stateless clipper takes only
        ``{}``), so a bad state raises ``TypeError`` / ``ValueError`` naming the key, the
        value and the rule, and leaves the clipper exactly as it was."""
        self._set_state(check_state(type(self).__name__, state_dict, self._STATE))

    def _set_state(self, values: dict[str, Any]) -> None:
        """Take checked state values (subclasses with state; cross-field checks go here,
        before the first assignment)."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"

