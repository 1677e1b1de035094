"""Argument rules shared by every package, and the one mechanism that checks a loaded state.

A `Rule` checks one value and returns it normalised (a Python float / int / bool, a tuple, a
``Counter``...), or raises ``TypeError`` (wrong kind: a string, a bool where a number goes, a
float where an integer goes) or ``ValueError`` (right kind, out of range) with a message naming
the argument, the value given and the rule, e.g. ``max_norm must be a number >= 0 or inf, got
nan``. Constructors check their arguments with a class's rules, and ``load_state_dict`` checks
each stored field with the same rules (`check_state`), all before anything is changed, so a
state that no constructor would accept is never loaded.

Numbers: ``bool`` (and ``numpy.bool_``) is never a number; numpy scalars (and 0-d arrays) are
accepted wherever a Python number is. NaN never satisfies a numeric rule (no rule says
otherwise: each rule's text says whether infinities are allowed).
"""

from __future__ import annotations

import copy
import math
import operator
from collections.abc import Callable, Collection, Mapping
from typing import Any

import numpy as np

__all__ = ["Boolean", "Callback", "Integer", "Kind", "ListOf", "MapOf", "OneOf", "Optional",
           "Real", "Record", "Rule", "check", "check_state", "defined_here", "prefixed", "show",
           "state_error"]


def show(value: Any) -> str:
    """A short repr for messages (numpy scalars as the Python number they hold)."""
    if isinstance(value, np.generic):
        value = value.item()
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


class Rule:
    """One value's rule: ``rule(value, where) -> normalised value`` or a clear error.

    Every error reads ``[LABEL: ]WHERE must be TEXT, got VALUE``: ``where`` names the argument
    (``"max_norm"``, ``"LSTM: hidden_size"``, ``"state_dict['lr']"``), ``text`` is the rule,
    a kind error gives the type before the value; ``label`` (optional) is the phrase PyTorch
    starts the same error with (``Invalid learning rate``), kept so a search for it finds us."""

    text = "a value"
    label: str | None = None

    def __call__(self, value: Any, where: str) -> Any:  # pragma: no cover - subclasses
        raise NotImplementedError

    def _message(self, where: str, got: str) -> str:
        head = f"Invalid {self.label}: " if self.label else ""
        return f"{head}{where} must be {self.text}, got {got}"

    def kind_error(self, value: Any, where: str) -> TypeError:
        return TypeError(self._message(where, f"{type(value).__name__} {show(value)}"))

    def range_error(self, value: Any, where: str) -> ValueError:
        return ValueError(self._message(where, show(value)))


def check(rule: Rule, value: Any, name: str, owner: str | None = None) -> Any:
    """``value`` of argument ``name`` checked by ``rule``; ``owner`` (a class or function
    name) starts the message: ``LSTM: hidden_size must be an integer >= 1, got 0``."""
    return rule(value, name if owner is None else f"{owner}: {name}")


def _fmt(x: float) -> str:
    return f"{x:g}"


class Real(Rule):
    """A real number in a range: ``Real(0)`` is ``>= 0`` and finite, ``Real(0, finite=False)``
    also takes inf, ``Real(0, 1, high_open=True)`` is ``[0, 1)``; ``nan=True`` lets NaN pass
    (a metric, a norm: NaN there is data, not a mistake). ``label``: PyTorch's phrase for the
    error (``Invalid learning rate``, see `Rule`)."""

    def __init__(self, low: float = -math.inf, high: float = math.inf, *,
                 low_open: bool = False, high_open: bool = False, finite: bool = True,
                 nan: bool = False, label: str | None = None) -> None:
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open
        self.finite, self.nan, self.label = finite, nan, label
        self.text = self._describe()
        if nan:  # "a number >= 0, inf or NaN"
            self.text = ("any number (inf, -inf and NaN too)" if math.isinf(low) and
                         math.isinf(high) and not finite
                         else self.text.replace(" or inf", ", inf") + " or NaN")

    def _describe(self) -> str:
        lo, hi = self.low, self.high
        gt = ">" if self.low_open else ">="
        lt = "<" if self.high_open else "<="
        if math.isfinite(lo) and math.isfinite(hi):
            return (f"a number in {'(' if self.low_open else '['}{_fmt(lo)}, {_fmt(hi)}"
                    f"{')' if self.high_open else ']'}")
        if math.isfinite(lo):
            return (f"a finite number {gt} {_fmt(lo)}" if self.finite
                    else f"a number {gt} {_fmt(lo)} or inf")
        if math.isfinite(hi):
            return (f"a finite number {lt} {_fmt(hi)}" if self.finite
                    else f"a number {lt} {_fmt(hi)} or -inf")
        return "a finite number" if self.finite else "a number other than NaN"

    def number(self, value: Any, where: str) -> float:
        """``value`` as a float; TypeError when it is not a real number."""
        if _is_bool(value) or isinstance(value, (str, bytes, np.complexfloating)) \
                or not hasattr(type(value), "__float__"):
            raise self.kind_error(value, where)
        try:
            return float(value)
        except (TypeError, ValueError):  # a multi-element array, say
            raise self.kind_error(value, where) from None

    def __call__(self, value: Any, where: str) -> float:
        # a Python float or int (never a bool: its type is bool) needs no kind check
        v = float(value) if type(value) in (float, int) else self.number(value, where)
        if self.nan and v != v:
            return v
        ok = (v > self.low if self.low_open else v >= self.low) and (
            v < self.high if self.high_open else v <= self.high)
        if not ok or (self.finite and not math.isfinite(v)):  # NaN fails every comparison
            raise self.range_error(value, where)
        return v


class Integer(Rule):
    """An integer ``>= low`` (and ``<= high``): ``int``, a numpy integer or a 0-d integer
    array; a float such as ``5.0`` is a TypeError, as is a bool."""

    def __init__(self, low: int | None = None, high: int | None = None) -> None:
        self.low, self.high = low, high
        if low is not None and high is not None:
            self.text = f"an integer in [{low}, {high}]"
        elif low is not None:
            self.text = f"an integer >= {low}"
        elif high is not None:
            self.text = f"an integer <= {high}"
        else:
            self.text = "an integer"

    def __call__(self, value: Any, where: str) -> int:
        if _is_bool(value):
            raise self.kind_error(value, where)
        try:
            v = operator.index(value)
        except TypeError:
            raise self.kind_error(value, where) from None
        if (self.low is not None and v < self.low) or (self.high is not None and v > self.high):
            raise self.range_error(value, where)
        return v


class Boolean(Rule):
    """``True`` or ``False`` (a numpy bool too); no other value stands in for one."""

    text = "True or False"

    def __call__(self, value: Any, where: str) -> bool:
        if not _is_bool(value):
            raise self.kind_error(value, where)
        return bool(value)


class OneOf(Rule):
    """One of a few choices (strings, usually)."""

    def __init__(self, *choices: Any) -> None:
        self.choices = choices
        self._allowed = frozenset((type(c), c) for c in choices)  # True is not 1 here
        self.text = "one of " + ", ".join(map(repr, choices))

    def __call__(self, value: Any, where: str) -> Any:
        try:
            allowed = (type(value), value) in self._allowed
        except TypeError:  # an unhashable value (a list, say) is none of the choices
            allowed = False
        if not allowed:
            raise self.range_error(value, where)
        return value


class Optional(Rule):
    """None, or a value of ``rule``."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.text = f"None or {rule.text}"

    def __call__(self, value: Any, where: str) -> Any:
        if value is None:
            return None
        try:
            return self.rule(value, where)
        except (TypeError, ValueError) as e:
            raise type(e)(str(e).replace(f"must be {self.rule.text}", f"must be {self.text}", 1)
                          ) from None


class ListOf(Rule):
    """A list (or tuple) whose every entry follows ``item``; ``length`` fixes its size.
    Returns a list (``as_tuple``: a tuple)."""

    def __init__(self, item: Rule, length: int | None = None, *, min_length: int = 0,
                 max_length: int | None = None, as_tuple: bool = False) -> None:
        self.item, self.length, self.as_tuple = item, length, as_tuple
        self.min_length, self.max_length = min_length, max_length
        size = (f"{length} " if length is not None else "")
        self.text = f"a list of {size}values, each {item.text}"

    def __call__(self, value: Any, where: str) -> list | tuple:
        if not isinstance(value, (list, tuple)):
            raise self.kind_error(value, where)
        n = len(value)
        if (self.length is not None and n != self.length) or n < self.min_length or (
                self.max_length is not None and n > self.max_length):
            want = (f"{self.length}" if self.length is not None else
                    f"{self.min_length} to {self.max_length}" if self.max_length is not None
                    else f"at least {self.min_length}")
            raise ValueError(self._message(where, f"{n} entries (want {want})"))
        out = [self.item(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if self.as_tuple else out


class MapOf(Rule):
    """A dict from keys of rule ``key`` to values of rule ``value`` (``factory`` builds the
    result, e.g. ``Counter``)."""

    def __init__(self, key: Rule, value: Rule, factory: Callable[[dict], Any] = dict) -> None:
        self.key, self.value, self.factory = key, value, factory
        self.text = f"a dict from {key.text} to {value.text}"

    def __call__(self, value: Any, where: str) -> Any:
        if not isinstance(value, Mapping):
            raise self.kind_error(value, where)
        out = {}
        for k, v in value.items():
            out[self.key(k, f"{where} key {show(k)}")] = self.value(v, f"{where}[{show(k)}]")
        return self.factory(out)


class Record(Rule):
    """A dict with exactly the keys of ``fields``, each checked by its rule."""

    def __init__(self, fields: Mapping[str, Rule]) -> None:
        self.fields = dict(fields)
        self.text = f"a dict with keys {sorted(self.fields)}"

    def __call__(self, value: Any, where: str) -> dict:
        if not isinstance(value, Mapping):
            raise self.kind_error(value, where)
        if set(value) != set(self.fields):
            raise ValueError(f"{where} must be {self.text}, got keys {sorted(map(str, value))}")
        return {k: rule(value[k], f"{where}[{k!r}]") for k, rule in self.fields.items()}


class Callback(Rule):
    """A callable (a function, a lambda, an object with ``__call__``)."""

    text = "a function (a callable)"

    def __call__(self, value: Any, where: str) -> Any:
        if not callable(value):
            raise self.kind_error(value, where)
        return value


class Kind(Rule):
    """An instance of ``cls`` (a copy is made by the caller where needed)."""

    def __init__(self, cls: type, text: str) -> None:
        self.cls, self.text = cls, text

    def __call__(self, value: Any, where: str) -> Any:
        if not isinstance(value, self.cls):
            raise self.kind_error(value, where)
        return value


def prefixed(prefix: str, error: Exception) -> Exception:
    """``error`` again (same type) with ``prefix`` in front of its message."""
    return type(error)(prefix + str(error))


def state_error(owner: str, message: str) -> ValueError:
    """A ValueError about a state that ``owner.load_state_dict`` refuses."""
    return ValueError(f"{owner}.load_state_dict: {message}")


def defined_here(obj: Any) -> bool:
    """Whether ``obj``'s class is one of tinyclipnn's own (whose state layout is known in
    full), not a user's subclass (which may store more)."""
    return type(obj).__module__.startswith("tinyclipnn.")


def check_state(owner: str, state: Any, rules: Mapping[str, Rule], *,
                ignore: Collection[str] = (), strict: bool = True) -> dict[str, Any]:
    """Every field of ``state`` (a ``state_dict()``) checked by its rule in ``rules`` and
    normalised; ``owner.load_state_dict`` then assigns the result, so a bad state changes
    nothing. Every key of ``rules`` must be present; keys in ``ignore`` are dropped (fields
    other libraries store, e.g. PyTorch's); any other key is refused, unless not ``strict``
    (a user's subclass: its own fields are returned as deep copies, unchecked)."""
    if not isinstance(state, Mapping):
        raise TypeError(f"{owner}.load_state_dict: state_dict must be a dict (what "
                        f"{owner}.state_dict() returns), got {type(state).__name__}")
    missing = [k for k in rules if k not in state]
    extra = [k for k in state if k not in rules and k not in ignore]
    unexpected = extra if strict else []
    if missing or unexpected:
        parts = ([f"lacks keys {missing}"] if missing else []) + (
            [f"has unexpected keys {sorted(map(str, unexpected))}"] if unexpected else [])
        raise state_error(owner, f"state_dict {' and '.join(parts)}; pass what "
                                 f"{owner}.state_dict() returned (keys {sorted(rules)})")
    out = {}
    for key, rule in rules.items():
        try:
            out[key] = rule(state[key], f"state_dict[{key!r}]")
        except (TypeError, ValueError) as e:
            raise prefixed(f"{owner}.load_state_dict: ", e) from None
    if not strict:
        out.update({k: copy.deepcopy(state[k]) for k in extra})
    return out
