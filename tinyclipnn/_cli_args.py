"""argparse ``type=`` functions shared by the commands of :mod:`tinyclipnn.cli`.

Each checks one kind of option value, numbers by the rules of `tinyclipnn._validate` (the
library's own arguments follow the same ones), and raises ``argparse.ArgumentTypeError`` with
the rule and the value given, so a bad value is refused while the command line is parsed,
before any work and before anything is written: argparse prints ``tinyclipnn CMD: error:
argument --OPTION: must be RULE, got VALUE`` and exits with status 2.
"""

from __future__ import annotations

import os
import tempfile
from argparse import ArgumentTypeError
from collections.abc import Callable
from pathlib import Path

from ._validate import Integer

__all__ = ["integer", "integer_list", "name_list", "nonempty", "out_folder"]


def _parsed(text: str, rule: Integer, rule_text: str, whole: str) -> int:
    """``text`` (one item of the option value ``whole``) as an int of ``rule``."""
    try:
        return rule(int(text), "value")
    except (TypeError, ValueError):  # not digits, or out of range
        raise ArgumentTypeError(f"must be {rule_text}, got {whole!r}") from None


def integer(minimum: int) -> Callable[[str], int]:
    """``type=`` for a whole number >= ``minimum`` (a count, a seed)."""
    rule = Integer(minimum)
    return lambda text: _parsed(text, rule, rule.text, text)


def _items(text: str, what: str) -> list[str]:
    """The comma-separated items of ``text``: at least one, none empty."""
    items = [item.strip() for item in text.split(",")]
    if not text.strip() or not all(items):
        raise ArgumentTypeError(f"must be a comma-separated list of {what} with no empty "
                                f"item, got {text!r}")
    return items


def integer_list(minimum: int) -> Callable[[str], list[int]]:
    """``type=`` for comma-separated whole numbers, each >= ``minimum`` (e.g. ``50,100``)."""
    rule = Integer(minimum)
    what = f"integers >= {minimum}"
    return lambda text: [_parsed(item, rule, f"a comma-separated list of {what}", text)
                         for item in _items(text, what)]


def name_list(text: str) -> list[str]:
    """``type=`` for comma-separated names (e.g. ``addition,temporal_order``); which names
    exist is checked by the command, which knows them."""
    return _items(text, "names")


def nonempty(text: str) -> str:
    """``type=`` for a string option that must not be empty (an address, say)."""
    if not text.strip():
        raise ArgumentTypeError(f"must not be empty, got {text!r}")
    return text


def out_folder(text: str) -> str:
    """``type=`` for an output folder: an existing folder, or one that can be created. The
    check makes (and removes) an empty temporary folder in it, or in its nearest existing
    parent, so an unwritable place fails now, with its reason, rather than after the work;
    nothing is left behind."""
    if not text.strip():
        raise ArgumentTypeError("must be a folder path (created if missing), got ''")
    path = Path(text).absolute()
    if path.exists() and not path.is_dir():
        raise ArgumentTypeError(f"must be a folder (created if missing), but {text} is a file")
    if os.path.lexists(path) and not path.exists():
        raise ArgumentTypeError(f"must be a folder, but {text} is a broken symbolic link")
    base = path
    while not base.exists():
        base = base.parent
    if not base.is_dir():
        raise ArgumentTypeError(f"must be a folder, but {base} is a file, so {text} cannot "
                                "be created")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".tinyclipnn-check-", dir=base))
    except OSError as e:
        where = "" if base == path else f": cannot create folders in {base}"
        raise ArgumentTypeError(f"{text} is not writable{where} ({e.strerror or e})") from None
    return text
