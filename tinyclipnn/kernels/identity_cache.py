"""A small LRU cache keyed by the identity of a list of objects (arrays, usually).

An optimizer hands the same ~1,000 gradient arrays to the clip functions every step; work that
depends only on which arrays they are (their addresses, a validated layout) is worth keeping.
Entries hold the objects through weak references, so an id reused by a new object after the
old one was freed never matches. The caller re-validates whatever mutable property it relies
on (dtype, size, flags) on every hit. Thread-safe (several threads may clip at once), and a
forked child gets fresh locks (another parent thread may have held one at the fork).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from operator import is_
from typing import Any

_deref = weakref.ref.__call__
_instances: weakref.WeakSet = weakref.WeakSet()


class IdentityCache:
    """``size`` most recent values, each keyed by the exact list of objects it was put with."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[int, int], tuple[list, Any, list]] = OrderedDict()
        self._lock = threading.Lock()
        _instances.add(self)

    def get(self, objs: Sequence[Any]) -> Any | None:
        """The value put with these very objects (same ones, same order), else None."""
        key = (len(objs), id(objs[0]) if objs else 0)
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
        if hit is None:
            return None
        refs, value, alive = hit
        if alive[0] and len(refs) == len(objs) and all(map(is_, map(_deref, refs), objs)):
            return value
        return None

    def put(self, objs: Sequence[Any], value: Any) -> None:
        """Keep ``value`` for ``objs`` (evicting the least recently used entry when full).
        An entry one of whose objects has died never matches again (a dead reference would
        otherwise compare equal to a None in the list looked up)."""
        alive = [True]

        def died(_ref: weakref.ref, alive: list = alive) -> None:
            alive[0] = False

        refs = [weakref.ref(o, died) for o in objs]
        key = (len(objs), id(objs[0]) if objs else 0)
        with self._lock:
            self._entries[key] = (refs, value, alive)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def _renew_lock(self) -> None:
        self._lock = threading.Lock()


def _renew_locks_in_child() -> None:
    """After fork: new locks (the entries stay valid: same objects at the same addresses)."""
    for cache in list(_instances):
        cache._renew_lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_locks_in_child)
