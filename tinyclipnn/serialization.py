"""`save` / `load`: state dicts (nested dicts of arrays and numbers) as ``.npz``, written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np

_SEP = "/"
_META = "__tinyclipnn_meta__"


def _flatten(obj: Any, prefix: str, out: dict[str, np.ndarray], kinds: dict[str, str]) -> None:
    if isinstance(obj, dict):
        kinds[prefix] = "dict"
        for k, v in obj.items():
            key = str(k)
            if _SEP in key:
                raise ValueError(f"save: key {key!r} contains {_SEP!r}, which is reserved")
            if not isinstance(k, str):
                kinds[f"{prefix}{_SEP}{key}#key"] = type(k).__name__
            _flatten(v, f"{prefix}{_SEP}{key}", out, kinds)
    elif isinstance(obj, (list, tuple)):
        kinds[prefix] = type(obj).__name__
        for i, v in enumerate(obj):
            _flatten(v, f"{prefix}{_SEP}{i}", out, kinds)
    elif obj is None:
        kinds[prefix] = "none"
    elif isinstance(obj, str):
        kinds[prefix] = "str"
        out[prefix] = np.array(obj)
    else:
        arr = np.asarray(obj.data if hasattr(obj, "requires_grad") else obj)
        if arr.dtype == object:
            raise TypeError(f"save: cannot store value of type {type(obj).__name__} at {prefix!r}")
        kinds[prefix] = type(obj).__name__ if isinstance(obj, (bool, int, float)) else "array"
        out[prefix] = arr


def _unflatten(prefix: str, arrays: Any, kinds: dict[str, str]) -> Any:
    kind = kinds[prefix]
    if kind in ("dict", "list", "tuple"):
        head = prefix + _SEP
        children = []
        for k in kinds:
            if k.startswith(head) and not k.endswith("#key") and _SEP not in k[len(head):]:
                children.append(k[len(head):])
        if kind == "dict":
            out = {}
            for c in children:
                ktype = kinds.get(f"{head}{c}#key")
                key = int(c) if ktype == "int" else c
                out[key] = _unflatten(head + c, arrays, kinds)
            return out
        items = [_unflatten(head + c, arrays, kinds) for c in sorted(children, key=int)]
        return items if kind == "list" else tuple(items)
    if kind == "none":
        return None
    value = arrays[prefix]
    if kind == "str":
        return str(value)
    if kind in ("bool", "int", "float"):
        return {"bool": bool, "int": int, "float": float}[kind](value)
    return value


def save(state: Any, path: str | os.PathLike) -> None:
    """Write ``state`` (a dict, possibly nested, of arrays / numbers / strings / lists) to
    ``path`` as an ``.npz``. The file is written to a temporary name in the same folder and
    renamed over ``path``, so a crash mid-save never leaves a corrupt file in its place."""
    arrays: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    _flatten(state, "", arrays, kinds)
    arrays[_META] = np.array(json.dumps(kinds))
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path: str | os.PathLike) -> Any:
    """Read what `save` wrote (a plain ``.npz`` of arrays gives a flat dict of arrays)."""
    with np.load(os.fspath(path), allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    if _META not in arrays:
        return arrays
    kinds = json.loads(str(arrays.pop(_META)))
    return _unflatten("", arrays, kinds)
