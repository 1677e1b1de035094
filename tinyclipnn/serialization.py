"""`save` / `load`: state dicts (nested dicts of arrays and numbers) as ``.npz``, written atomically.

Format: the structure (dicts, lists, tuples, keys and scalars, each with its type) is one JSON
document in the member ``__tinyclipnn__``; every array is its own ``.npy`` member, named after its
path (``model/lstm.weight_hh_l0``) so ``numpy.load`` shows readable names. Keys keep their type
(``1`` and ``"1"`` are different keys; float and bool keys come back as floats and bools); any
value or key that would not come back as it went in is rejected at save time.

Files: `save` writes ``.NAME.tmp-PID-XXXX`` in the target's folder and renames it over the target,
so a crash never leaves a half-written checkpoint; the temporary file is removed on any exception,
and one left by a killed process (its PID no longer running) is removed by the next save to that
folder. A replaced file keeps its permission bits; a new one gets ``0666 & ~umask`` (0644 usually).
A path that is a symbolic link is written through, as ``open()`` would: the link's final target is
replaced (atomically, with its temporary file beside it) and the link stays a link. Errors name
the path given (a missing folder, no permission), never the temporary file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from typing import Any

import numpy as np

__all__ = ["save", "load", "MAX_DEPTH"]

MAX_DEPTH = 100  # nesting levels accepted by save and load (state dicts use ~4)
_META = "__tinyclipnn__"
_SCALARS = {"bool": bool, "int": int, "float": float, "str": str}
_TMP = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)-[A-Za-z0-9_]+$")


# ---- save ----------------------------------------------------------------------------------
def _where(path: tuple) -> str:
    return "/".join(map(str, path)) or "<top level>"


def _scalar_node(obj: Any) -> dict | None:
    for name, typ in _SCALARS.items():
        if type(obj) is typ:
            return {"t": name, "v": obj}
    return None if obj is not None else {"t": "none"}


def _key_node(key: Any, path: tuple) -> dict:
    node = _scalar_node(key)
    if node is None:
        raise TypeError(f"save: dict key {key!r} at {_where(path)} has type {type(key).__name__};"
                        " keys must be str, int, float, bool or None")
    return node


class _Writer:
    """Turns a state into a JSON tree plus a dict of named arrays."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _member(self, path: tuple) -> str:
        base = "/".join(map(str, path)) or "value"
        name, n = base, 1
        while name in self.arrays or name == _META:
            name, n = f"{base}~{n}", n + 1
        return name

    def node(self, obj: Any, path: tuple) -> dict:
        if len(path) > MAX_DEPTH:
            raise ValueError(f"save: the state nests deeper than {MAX_DEPTH} levels at "
                             f"{_where(path[:8])}/... (a container that contains itself?)")
        if isinstance(obj, dict):
            return {"t": "dict", "items": [[_key_node(k, path), self.node(v, (*path, k))]
                                           for k, v in obj.items()]}
        if type(obj) in (list, tuple):
            return {"t": type(obj).__name__,
                    "items": [self.node(v, (*path, i)) for i, v in enumerate(obj)]}
        scalar = _scalar_node(obj)
        if scalar is not None:
            return scalar
        if isinstance(obj, bytes):
            return {"t": "bytes", "f": self._add(np.frombuffer(obj, np.uint8), path)}
        is_scalar = isinstance(obj, np.generic)
        if hasattr(obj, "requires_grad") and hasattr(obj, "data"):  # a Tensor / Parameter
            obj = obj.data
        if not isinstance(obj, (np.ndarray, np.generic)) and hasattr(obj, "__array__"):
            obj = np.asarray(obj)  # e.g. a CPU torch tensor
        if not isinstance(obj, (np.ndarray, np.generic)):
            raise TypeError(f"save: cannot store a {type(obj).__name__} at {_where(path)}; "
                            "values must be arrays, tensors, numbers, strings, bytes, None, or "
                            "dicts / lists / tuples of them")
        return {"t": "scalar" if is_scalar else "array", "f": self._add(np.asarray(obj), path)}

    def _add(self, arr: np.ndarray, path: tuple) -> str:
        if arr.dtype.hasobject:
            raise TypeError(f"save: the array at {_where(path)} has dtype object; only arrays "
                            "of numbers, booleans or strings can be stored")
        name = self._member(path)
        self.arrays[name] = arr
        return name


def _default_mode(path: str) -> int:
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    try:
        with open("/proc/self/status") as f:  # Linux: read without changing it
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: the only portable way (briefly process-wide)
    os.umask(mask)
    return mask


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _remove_stale_temporaries(folder: str) -> None:
    """Delete temporaries of saves whose process is gone (killed mid-save)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for e in entries:
        m = _TMP.match(e.name)
        try:
            if m and int(m["pid"]) != os.getpid() and not _pid_running(int(m["pid"])):
                os.unlink(e.path)
        except OSError:
            pass


def save(state: Any, path: str | os.PathLike) -> None:
    """Write ``state`` (a dict, possibly nested, of arrays / tensors / numbers / strings / lists /
    tuples / None) to ``path`` as an ``.npz``, atomically (see the module docstring).

    Raises ``TypeError`` for a value or key that cannot be stored and ``ValueError`` for a state
    nested deeper than `MAX_DEPTH`, before anything is written."""
    writer = _Writer()
    tree = writer.node(state, ())
    meta = json.dumps({"format": 2, "tree": tree})
    given = os.fspath(path)
    if os.path.isdir(given):
        raise IsADirectoryError(f"save: {given} is a directory; give a file name such as "
                                f"{os.path.join(given, 'model.npz')}")
    path = _target(given)
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        what = "is not a folder" if os.path.exists(folder) else "does not exist"
        error = NotADirectoryError if os.path.exists(folder) else FileNotFoundError
        raise error(f"save: cannot write {given}: {folder} {what}"
                    + ("" if os.path.exists(folder) else " (create it first, e.g. with "
                       "os.makedirs)"))
    _remove_stale_temporaries(folder)
    mode = _default_mode(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.tmp-{os.getpid()}-",
                                   dir=folder)
    except OSError as e:
        raise type(e)(f"save: cannot write {given}: cannot create a file in {folder} "
                      f"({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{_META: np.array(meta)}, **writer.arrays)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)


def _target(path: str) -> str:
    """The absolute path a write to ``path`` lands on: symbolic links followed to their final
    target (as ``open()`` does), so the atomic rename replaces the target, not the link."""
    target = os.path.realpath(path)
    if os.path.islink(target):  # realpath stops at a loop
        raise OSError(f"save: cannot write {path}: too many levels of symbolic links")
    return target


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---- load ----------------------------------------------------------------------------------
class _Reader:
    """Rebuilds a state from the JSON tree, reading array members as they are needed."""

    def __init__(self, npz: Any, where: str) -> None:
        self.npz, self.where = npz, where

    def bad(self, why: str) -> ValueError:
        return ValueError(f"load: {self.where} is not a valid tinyclipnn checkpoint ({why})")

    def node(self, node: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise self.bad(f"its structure nests deeper than {MAX_DEPTH} levels")
        if not isinstance(node, dict) or not isinstance(node.get("t"), str):
            raise self.bad("malformed structure record")
        t = node["t"]
        if t == "dict":
            return {self.node(k, depth + 1): self.node(v, depth + 1)
                    for k, v in self._items(node, pairs=True)}
        if t in ("list", "tuple"):
            items = [self.node(v, depth + 1) for v in self._items(node)]
            return items if t == "list" else tuple(items)
        if t == "none":
            return None
        if t in _SCALARS:
            value = node.get("v")
            if type(value) is not _SCALARS[t] and not (t == "float" and type(value) is int):
                raise self.bad(f"a {t} value is stored as {type(value).__name__}")
            return _SCALARS[t](value)
        if t in ("array", "scalar", "bytes"):
            arr = self.array(node.get("f"))
            return arr[()] if t == "scalar" else arr.tobytes() if t == "bytes" else arr
        raise self.bad(f"unknown record type {t!r}")

    def _items(self, node: dict, pairs: bool = False) -> list:
        items = node.get("items")
        if not isinstance(items, list) or pairs and not all(
                isinstance(kv, list) and len(kv) == 2 for kv in items):
            raise self.bad("malformed container record")
        return items

    def array(self, name: Any) -> np.ndarray:
        if not isinstance(name, str) or name not in self.npz.files:
            raise self.bad(f"the array {name!r} is missing")
        return _read_member(self.npz, name, self.where)


def _read_member(npz: Any, name: str, where: str) -> np.ndarray:
    try:
        return npz[name]
    except ValueError as e:  # object arrays: never suggest allow_pickle to a user
        if "pickle" in str(e):
            raise ValueError(f"load: {where} holds Python objects in {name!r}; tinyclipnn "
                             "checkpoints hold only plain arrays, and loading pickled objects "
                             "is unsafe, so it is refused") from None
        raise ValueError(f"load: {where} is damaged ({name!r}: {e})") from None
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 - zip, zlib, header parsing: all mean damaged
        raise ValueError(f"load: {where} is damaged or truncated ({name!r}: "
                         f"{type(e).__name__}: {e})") from None


def _open(path: str) -> Any:
    if os.path.isdir(path):
        raise IsADirectoryError(f"load: {path} is a directory, not a checkpoint file")
    try:
        f = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"load: {path} does not exist") from None
    except PermissionError as e:
        raise PermissionError(f"load: cannot read {path} ({e.strerror})") from None
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 - random bytes, pickles, damaged zip directories
        raise ValueError(f"load: {path} is not a tinyclipnn checkpoint (an .npz written by "
                         "tinyclipnn.save): it is truncated, damaged or in another format "
                         f"({type(e).__name__})") from None
    if isinstance(f, np.ndarray):
        raise ValueError(f"load: {path} holds a single array (a .npy file), not a tinyclipnn "
                         "checkpoint; read it with numpy.load")
    return f


def load(path: str | os.PathLike) -> Any:
    """Read what `save` wrote. A plain ``.npz`` of arrays gives a flat dict of arrays. Anything
    else (a ``.npy``, a truncated or damaged file, random bytes, pickled objects) raises
    ``ValueError`` saying what the file is; a missing file raises ``FileNotFoundError``."""
    path = os.fspath(path)
    with _open(path) as f:
        if _META in f.files:
            try:
                meta = json.loads(str(_read_member(f, _META, path)))
            except (json.JSONDecodeError, RecursionError) as e:
                raise ValueError(f"load: {path} has unreadable structure metadata "
                                 f"({type(e).__name__})") from None
            reader = _Reader(f, path)
            if not isinstance(meta, dict) or meta.get("format") != 2:
                raise reader.bad("unknown format version")
            return reader.node(meta.get("tree"))
        return {k: _read_member(f, k, path) for k in f.files}
