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

__all__ = ["CLIP_METHODS", "ClipSpec", "parse_clip"]

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
# function name -> the clipper class that returns a ClipReport
_CLIPPERS = {"clip_grad_value_": "ClipGradValue", "clip_grad_norm_": "ClipGradNorm",
             "clip_grad_norm_per_tensor_": "ClipGradNormPerTensor",
             "adaptive_clip_grad_": "AdaptiveGradClip"}


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
        name = CLIP_METHODS[self.method][0]
        try:
            clip = importlib.import_module("tinyclipnn.clip")
            cls = clip.ClipGradNorm if name is None else getattr(clip, _CLIPPERS.get(name, name))
        except (ImportError, AttributeError) as e:
            raise ImportError(f"--clip {self.method} needs tinyclipnn.clip.{name}, which is "
                              f"not available ({e})") from e
        # "none" measures the norm only: a global-norm clip to inf never scales
        kwargs = dict(self.kwargs, measure_norm=True) if self.method == "value" else self.kwargs
        try:  # bad arguments fail here (the clipper checks them), not at the first step
            self._fn = cls(math.inf) if name is None else cls(**kwargs)
        except (TypeError, ValueError) as e:
            raise ValueError(f"--clip {self.spec or self.method}: {e}") from None

    def state_dict(self) -> dict[str, Any]:
        """The stateful clipper's state (AutoClip's history, ZClip's EMA), for checkpoints."""
        return self._fn.state_dict() if hasattr(self._fn, "state_dict") else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        if hasattr(self._fn, "load_state_dict"):
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
