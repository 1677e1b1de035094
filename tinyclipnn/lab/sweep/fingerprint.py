"""The code fingerprint of a sweep cell function: part of every cell's cache key.

A cached result is reused only when the code that computed it is the code that would run now:
the fingerprint hashes the cell function's name, the code of the module defining it (so an
edit anywhere in that module, e.g. a helper the cell calls, counts) and the tinyclipnn version
(the library code under it). The module's code is read as its syntax tree without docstrings,
so an edit of comments, docstrings or layout leaves the fingerprint, and so a long sweep's
checkpoints, valid. Edits to other modules the cell imports are not seen: give such a
sweep ``rerun=True`` (``--rerun``) after changing them.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import marshal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ... import __version__

__all__ = ["code_fingerprint", "function_name"]


def _target(fn: Callable) -> Callable:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def function_name(fn: Callable) -> str:
    """``module.qualname`` of the cell function (of a ``functools.partial``'s function)."""
    t = _target(fn)
    return f"{getattr(t, '__module__', '?')}.{getattr(t, '__qualname__', repr(t))}"


def code_of(source: bytes) -> bytes:
    """``source``'s syntax tree without docstrings (comments and layout are not in the tree);
    the source itself when it does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False, include_attributes=False).encode()


def _source(fn: Callable) -> bytes:
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    try:
        path = inspect.getsourcefile(module) if module is not None else None
        if path:
            return code_of(Path(path).read_bytes())
    except (TypeError, OSError):
        pass
    code: Any = getattr(fn, "__code__", None)
    return marshal.dumps(code) if code is not None else repr(fn).encode()


def code_fingerprint(fn: Callable) -> str:
    """16 hex digits identifying the code ``fn`` runs (see the module docstring)."""
    h = hashlib.sha256()
    h.update(f"{function_name(fn)}\0tinyclipnn {__version__}\0".encode())
    f = fn
    while isinstance(f, functools.partial):  # bound arguments change what the cell computes
        h.update(repr((f.args, sorted(f.keywords.items()))).encode())
        f = f.func
    h.update(_source(_target(fn)))
    return h.hexdigest()[:16]
