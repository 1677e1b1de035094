"""Turn a ``--clip METHOD:ARGS`` string into a clipper that also reports what it did.

Grammar: ``METHOD[:ARG[,ARG...]]`` where each ARG is a value (positional, in the order of the
method's settings: the leading arguments of its class in ``tinyclipnn.clip.CLIP_METHODS``) or
``key=value``. Methods: ``none`` (measure the norm only) and every name of ``CLIP_METHODS``.
Examples: ``none``, ``value:5``, ``norm:1.0``, ``norm:1,inf``, ``pertensor:1.0``,
``agc:0.01``, ``autoclip:10``, ``zclip``, ``zclip:z_thresh=3``.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any

from ..clip import CLIP_METHODS, ClipGradNorm

__all__ = ["CLIP_METHODS", "ClipSpec", "parse_clip"]

# a clipper's arguments that are how it runs, not what the method is: never in a spec
_RUNTIME = {"nonfinite", "backend", "monitor", "group", "measure_norm", "skip_update_on_spike"}


def settings(method: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the spec's argument names in positional order, the required ones): the constructor
    arguments of the method's class up to the first runtime one."""
    if method == "none":
        return (), ()
    names, required = [], []
    for param in list(inspect.signature(CLIP_METHODS[method]).parameters.values()):
        if param.name in _RUNTIME:
            break
        names.append(param.name)
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
    return tuple(names), tuple(required)


def _value(text: str) -> Any:
    low = text.strip().lower()
    if low in ("inf", "+inf", "infinity"):
        return math.inf
    if low == "none":
        return None
    for conv in (int, float):
        try:
            return conv(low)
        except ValueError:
            pass
    return text.strip()


@dataclass
class ClipSpec:
    """A parsed clipping spec.  Call it on parameters after ``backward()`` and before
    ``optimizer.step()``; it clips in place and returns the ``tinyclipnn.clip.ClipReport`` of
    the call (norm before clipping, coefficient, clipped, skipped).  Also usable as an
    optimizer's ``clipper=`` callable."""

    method: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    spec: str = ""
    _fn: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # "none" measures the norm only: a global-norm clip to inf never scales
        kwargs = dict(self.kwargs, measure_norm=True) if self.method == "value" else self.kwargs
        try:  # bad arguments fail here (the clipper checks them), not at the first step
            if self.method == "none":
                self._fn = ClipGradNorm(math.inf)
            else:
                self._fn = CLIP_METHODS[self.method](**kwargs)
        except (TypeError, ValueError) as e:
            raise ValueError(f"--clip {self.spec or self.method}: {e}") from None

    def state_dict(self) -> dict[str, Any]:
        """The stateful clipper's state (AutoClip's history, ZClip's EMA), for checkpoints."""
        return self._fn.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self._fn.load_state_dict(state_dict)

    @property
    def label(self) -> str:
        """Short text such as ``norm:1.0`` (the spec as given, else rebuilt from kwargs)."""
        if self.spec:
            return self.spec
        args = ",".join(f"{k}={v}" for k, v in self.kwargs.items())
        return self.method + (f":{args}" if args else "")

    def __call__(self, params: Any) -> Any:
        return self._fn(params)


def parse_clip(spec: str | None) -> ClipSpec:
    """Parse ``METHOD[:ARGS]`` (see module doc) into a :class:`ClipSpec`.

    Raises ``ValueError`` naming the method or argument when the spec is malformed.
    """
    if spec is None or not str(spec).strip():
        spec = "none"
    method, _, argtext = str(spec).strip().partition(":")
    method = method.strip().lower()
    if method != "none" and method not in CLIP_METHODS:
        raise ValueError(f"--clip method must be one of {', '.join(['none', *CLIP_METHODS])}; "
                         f"got {method!r}")
    names, required = settings(method)
    kwargs: dict[str, Any] = {}
    parts = [a for a in argtext.split(",") if a.strip()] if argtext else []
    for i, part in enumerate(parts):
        if "=" in part:
            key, _, val = part.partition("=")
            key = key.strip()
            if key not in names:
                raise ValueError(f"--clip {method} takes {', '.join(names) or 'no arguments'};"
                                 f" got {key!r}")
            kwargs[key] = _value(val)
        elif i < len(names):
            kwargs[names[i]] = _value(part)
        else:
            raise ValueError(f"--clip {method} takes at most {len(names)} positional "
                             f"argument(s) ({', '.join(names) or 'none'}); got {argtext!r}")
    missing = [name for name in required if name not in kwargs]
    if missing:
        raise ValueError(f"--clip {method} needs a {missing[0]}, e.g. {method}:1.0")
    return ClipSpec(method, kwargs, spec=f"{method}:{argtext.strip()}" if argtext else method)
