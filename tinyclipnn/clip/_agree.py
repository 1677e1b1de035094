"""``group=``: the ranks check, with the exchange they already make, that they all made the
same clip call with the same settings, and all raise the same error if not.

Ranks that pass different ``max_norm`` (or ``norm_type``, or non-finite policy, or hold a
stateful clipper in different states) would each get the same total norm and then clip by
different rules: silently different gradients on each rank. So a ``group=`` call hands its
backend an ``Agreement`` instead of the communicator: its ``allgather`` (the one collective
of the combine) sends this rank's settings in the same message as the partial norms, and
checks every rank's before returning, so before any gradient is written. Every rank gets the
same gathered list, so either all raise the same ``ValueError`` or none does.

A rank that fails before the exchange (a bad argument, a read-only gradient) still makes it,
sending its error in place of partials (``relay``), so the other ranks raise as well instead
of waiting for it forever.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

CLIP_GRAD_NORM = "clip_grad_norm_"  # the call name of clip_grad_norm_ and ClipGradNorm alike
HINT = ("every rank must make the same call with the same settings and clipper state (the norm "
        "is taken over all ranks' gradients, and each rank clips its own); no rank changed its "
        "gradients")


class Failure(NamedTuple):
    """What a rank that failed before the exchange sends instead of partials."""

    kind: str  # the exception's class name
    message: str


class Agreement:
    """The communicator a ``group=`` clip call gives its backend: ``allgather(obj)`` gathers
    ``(obj, call, setting values)`` from every rank, checks that all ranks agree, and returns
    the ``obj`` of each rank (what the backend asked for). Only the values travel (the call
    fixes the names). ``comm`` is used only via ``allgather``."""

    __slots__ = ("comm", "call", "names", "values", "sent")

    def __init__(self, comm: Any, call: str, **settings: Any) -> None:
        self.comm, self.call, self.sent = comm, call, False
        self.names, self.values = tuple(settings), tuple(settings.values())

    def allgather(self, obj: Any) -> list[Any]:
        self.sent = True
        every = self.comm.allgather((obj, self.call, self.values))
        check(every, self.names)
        return [o for o, _, _ in every]


def agreement(comm: Any, call: str, settings: Callable[[], dict[str, Any]]) -> Agreement | None:
    """For a clipper object: None without a group, else an ``Agreement`` carrying
    ``settings()`` (made only then: a clipper without a group pays nothing)."""
    return None if comm is None else Agreement(comm, call, **settings())


def relay(group: Any, call: str, exc: BaseException) -> None:
    """After ``exc`` ended this rank's ``group=`` call: take part in the exchange the other
    ranks are waiting in (once; not when it already happened) with the error, so they raise
    too. Nothing to do without a group."""
    if group is None or not isinstance(exc, Exception):
        return
    if isinstance(group, Agreement):
        if group.sent:
            return
        group.sent = True
        group = group.comm
    group.allgather((None, call, Failure(type(exc).__name__, str(exc))))


def check(every: list[tuple[Any, str, Any]], names: tuple[str, ...]) -> None:
    """Raise, identically on every rank, when another rank failed or the ranks' calls or
    settings differ. ``every``: each rank's ``(obj, call, setting values or Failure)``;
    ``names``: the settings' names (those of this call, so of every rank's once the calls
    agree)."""
    _, call, values = every[0]
    for _, c, v in every:  # the common case, kept cheap: every rank sent the same
        if c != call or v != values:
            break
    else:
        return
    calls = [c for _, c, _ in every]
    settings = [s for _, _, s in every]
    failed = [(r, s) for r, s in enumerate(settings) if isinstance(s, Failure)]
    if failed:
        r, f = failed[0]
        cls = {"ValueError": ValueError, "TypeError": TypeError}.get(f.kind, RuntimeError)
        more = f" (and {len(failed) - 1} other rank(s))" if len(failed) > 1 else ""
        raise cls(f"{calls[r]} with group=: rank {r}{more} raised {f.kind}: {f.message}; "
                  "no rank changed its gradients")
    if any(c != calls[0] for c in calls):
        raise ValueError(f"group=: the ranks made different clip calls ({spread(calls)}); "
                         f"{HINT}")
    shown = [[repr(v) for v in s] for s in settings]  # NaN state equals NaN
    bad = [i for i in range(len(names)) if any(s[i] != shown[0][i] for s in shown)]
    if bad:
        parts = ", ".join(f"{names[i]} [{spread([s[i] for s in shown])}]" for i in bad)
        raise ValueError(f"{calls[0]} with group=: the ranks disagree on {parts}; {HINT}")


def spread(values: list[Any]) -> str:
    """``"1.0 on ranks 0-2, 4; 10.0 on rank 3"``: each distinct value with its ranks."""
    by_value: dict[Any, list[int]] = {}
    for r, v in enumerate(values):
        by_value.setdefault(v, []).append(r)
    return "; ".join(f"{v} on rank{'s' if len(rs) > 1 else ''} {_ranges(rs)}"
                     for v, rs in by_value.items())


def _ranges(ranks: list[int]) -> str:
    """``[0, 1, 2, 4]`` -> ``"0-2, 4"``."""
    out, start = [], 0
    for i, r in enumerate(ranks):
        if i + 1 == len(ranks) or ranks[i + 1] != r + 1:  # r ends a run
            out.append(str(r) if ranks[start] == r else f"{ranks[start]}-{r}")
            start = i + 1
    return ", ".join(out)


class Digest(NamedTuple):
    """A short fingerprint of a clipper's list of past norms: its length and the CRC-32 of
    its float64 bytes (compares histories across ranks in a few bytes)."""

    count: int
    crc32: int

    def __repr__(self) -> str:
        return f"{self.count} norms (crc32 {self.crc32:08x})"


def digest(values: Any) -> Digest:
    """The ``Digest`` of a sequence of norms."""
    data = np.asarray(list(values), np.float64)
    return Digest(data.size, zlib.crc32(data.tobytes()))
