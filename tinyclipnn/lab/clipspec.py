"""Turn a ``--clip METHOD:ARGS`` string into a clipper that also reports what it did.

Grammar: ``METHOD[:ARG[,ARG...]]`` where each ARG is a value (positional, in the order of the
table below) or ``key=value``.  Examples: ``none``, ``value:5``, ``norm:1.0``, ``norm:1,inf``,
``pertensor:1.0``, ``agc:0.01``, ``autoclip:10``, ``zclip``, ``zclip:z_thresh=3``.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CLIP_METHODS", "ClipStats", "ClipSpec", "parse_clip", "grad_norm"]

# method -> (name in tinyclipnn.clip, positional argument names, is a stateful class)
CLIP_METHODS: dict[str, tuple[str | None, tuple[str, ...], bool]] = {
    "none": (None, (), False),
    "value": ("clip_grad_value_", ("clip_value",), False),
    "norm": ("clip_grad_norm_", ("max_norm", "norm_type"), False),
    "pertensor": ("clip_grad_norm_per_tensor_", ("max_norm",), False),
    "agc": ("adaptive_clip_grad_", ("clipping", "eps"), False),
    "autoclip": ("AutoClip", ("percentile", "history"), True),
    "zclip": ("ZClip", ("alpha", "z_thresh", "warmup_steps", "mode", "max_norm"), True),
}
_REQUIRED = {"value": 1, "norm": 1, "pertensor": 1}


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


def _grads(params: Any) -> list[np.ndarray]:
    if isinstance(params, np.ndarray):
        return [params]
    items = [params] if hasattr(params, "grad") else list(params)
    out = []
    for p in items:
        g = p if isinstance(p, np.ndarray) else getattr(p, "grad", None)
        if g is not None:
            out.append(np.asarray(g))
    return out


def grad_norm(params: Any) -> float:
    """Global L2 norm (float64) of the gradients of ``params`` (objects with ``.grad`` or
    arrays)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64)))
                                   for g in _grads(params))))


@dataclass
class ClipStats:
    """What one clipping call did: the norm before, the ratio after/before, and whether it
    changed the gradient."""

    total_norm: float
    coef: float
    clipped: bool

    def as_dict(self) -> dict[str, Any]:
        return {"total_norm": self.total_norm, "coef": self.coef, "clipped": self.clipped}


@dataclass
class ClipSpec:
    """A parsed clipping spec.  Call it on parameters after ``backward()`` and before
    ``optimizer.step()``; it clips in place and returns :class:`ClipStats`.  Also usable as an
    optimizer's ``clipper=`` callable."""

    method: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    spec: str = ""
    _fn: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        name, _, stateful = CLIP_METHODS[self.method]
        if name is None:
            return
        try:
            clip = importlib.import_module("tinyclipnn.clip")
            target = getattr(clip, name)
        except (ImportError, AttributeError) as e:
            raise ImportError(f"--clip {self.method} needs tinyclipnn.clip.{name}, which is "
                              f"not available ({e})") from e
        kwargs = self.kwargs
        try:  # bad arguments fail here, not at the first training step
            if stateful:
                self._fn = target(**kwargs)
            else:
                target([], **kwargs)  # checks the arguments; nothing to clip
                self._fn = lambda params: target(params, **kwargs)
        except (TypeError, ValueError) as e:
            raise ValueError(f"--clip {self.spec or self.method}: {e}") from None

    def state_dict(self) -> dict[str, Any]:
        """The stateful clipper's state (AutoClip's history, ZClip's EMA), for checkpoints."""
        return self._fn.state_dict() if hasattr(self._fn, "state_dict") else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        if hasattr(self._fn, "load_state_dict"):
            self._fn.load_state_dict(state)

    @property
    def label(self) -> str:
        """Short text such as ``norm:1.0`` (the spec as given, else rebuilt from kwargs)."""
        if self.spec:
            return self.spec
        args = ",".join(f"{k}={v}" for k, v in self.kwargs.items())
        return self.method + (f":{args}" if args else "")

    def __call__(self, params: Any) -> ClipStats:
        if not isinstance(params, np.ndarray) and not hasattr(params, "grad"):
            params = list(params)  # a generator is read twice
        before = grad_norm(params)
        if self._fn is None:
            return ClipStats(before, 1.0, False)
        self._fn(params)
        after = grad_norm(params)
        if not math.isfinite(before):
            return ClipStats(before, math.nan, math.isfinite(after))
        coef = after / before if before > 0 else 1.0
        return ClipStats(before, coef, coef < 1.0 - 1e-5)  # float32 rounding is not clipping


def parse_clip(spec: str | None) -> ClipSpec:
    """Parse ``METHOD[:ARGS]`` (see module doc) into a :class:`ClipSpec`.

    Raises ``ValueError`` naming the method or argument when the spec is malformed.
    """
    if spec is None or not str(spec).strip():
        spec = "none"
    method, _, argtext = str(spec).strip().partition(":")
    method = method.strip().lower()
    if method not in CLIP_METHODS:
        raise ValueError(f"--clip method must be one of {', '.join(CLIP_METHODS)}; "
                         f"got {method!r}")
    names = CLIP_METHODS[method][1]
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
    if len(kwargs) < _REQUIRED.get(method, 0):
        raise ValueError(f"--clip {method} needs a {names[0]}, e.g. {method}:1.0")
    return ClipSpec(method, kwargs, spec=f"{method}:{argtext.strip()}" if argtext else method)
