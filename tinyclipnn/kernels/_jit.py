"""``njit``: ``numba.njit`` for every CPU kernel, with an on-disk cache that never stops a kernel.

``@njit(cache=True)`` keeps compiled kernels on disk (``__pycache__`` next to the source,
``NUMBA_CACHE_DIR``, or ``~/.cache/numba``). Two things about that cache must not break
tinyclipnn in a container with a read-only install or after a crash:

- No writable cache location: numba raises "no locator available" when the kernel is
  *defined*. Here the kernel is compiled uncached instead, with one warning per process.
- A damaged cache (a truncated index or data file): numba raises ``UnpicklingError`` /
  ``EOFError`` on every call. Here a failed cache read counts as a miss: that kernel's cache
  files are moved aside (renamed ``*.damaged``), one warning says where, and the fresh
  compilation is saved in their place (rebuilt once). A failed cache write only warns.

This reaches into numba's ``Dispatcher._cache`` (``load_overload`` / ``save_overload`` and the
index file's path); if a numba version lacks those, kernels are cached as numba does by itself.

The first cache miss of a process prints one line on stderr ("compiling kernels for first use,
cached for later runs"): a cold first run spends seconds compiling, which should not look like
a hang.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

from .runtime import first_time

__all__ = ["INNER", "njit"]

# Options for a kernel's helpers, functions called only from other compiled functions: no
# CPython wrapper (it cannot be called from Python), which cut a cold process's first
# global-norm clip from 3.55 to 3.0 CPU-seconds (best of 5, Zen 4: each compiled function
# otherwise builds and optimises a wrapper too).
INNER = {"no_cpython_wrapper": True}

COMPILE_NOTICE = ("tinyclipnn: compiling kernels for first use, cached for later runs "
                  "(a few seconds, once)")


def _announce_compile() -> None:
    """Say once per process that kernels are being compiled (a cold cache: seconds)."""
    if first_time("compiling"):
        print(COMPILE_NOTICE, file=sys.stderr, flush=True)


def _warn_once(key: str, message: str) -> None:
    if first_time(key):
        warnings.warn(f"tinyclipnn: {message}", RuntimeWarning, stacklevel=3)


def njit(*args: Any, **options: Any) -> Any:
    """Drop-in for ``numba.njit`` (``@njit``, ``@njit(**options)``); see the module docstring."""
    if len(args) == 1 and callable(args[0]) and not options:
        return _compile(args[0], {})
    if args:  # explicit signatures: numba's own handling
        import numba

        return numba.njit(*args, **options)
    return lambda func: _compile(func, options)


def _compile(func: Callable, options: dict[str, Any]) -> Any:
    import numba

    if not options.get("cache"):
        return numba.njit(**options)(func)
    try:
        dispatcher = numba.njit(**options)(func)
    except RuntimeError as e:
        if "no locator available" not in str(e):
            raise
        _warn_once("no-cache", "no writable folder for numba's kernel cache (the package's "
                   "__pycache__, NUMBA_CACHE_DIR and ~/.cache are read-only or missing); "
                   "kernels are compiled without caching, in every process, on first use. Set "
                   "NUMBA_CACHE_DIR to a writable folder to cache them.")
        return numba.njit(**{k: v for k, v in options.items() if k != "cache"})(func)
    _guard_cache(dispatcher)
    return dispatcher


def _guard_cache(dispatcher: Any) -> None:
    cache = getattr(dispatcher, "_cache", None)
    files = getattr(cache, "_cache_file", None)
    if not all(hasattr(x, a) for x, a in ((cache, "load_overload"), (cache, "save_overload"),
                                          (files, "_index_path"))):
        return
    load, save = cache.load_overload, cache.save_overload

    def load_overload(sig: Any, target_context: Any) -> Any:
        try:
            found = load(sig, target_context)
        except Exception as e:  # noqa: BLE001 - any unreadable cache entry is a cache miss
            _set_aside(cache, files._index_path, e)
            found = None
        if found is None:  # numba compiles it now
            _announce_compile()
        return found

    def save_overload(sig: Any, data: Any) -> None:
        try:
            save(sig, data)
        except Exception as e:  # noqa: BLE001 - the compiled kernel works uncached
            _warn_once("save-failed", f"could not write numba's kernel cache in "
                       f"{os.path.dirname(files._index_path)} ({type(e).__name__}: {e}); "
                       "kernels compiled in this process stay uncached")

    cache.load_overload = load_overload
    cache.save_overload = save_overload


def _set_aside(cache: Any, index_path: str, error: Exception) -> None:
    """Rename this kernel's cache files (index and data) to ``*.damaged``; if that is not
    possible, stop using the cache for it."""
    folder, index = os.path.split(index_path)
    base = index[: -len(".nbi")] + "."
    try:
        for name in os.listdir(folder):
            if name.startswith(base) and name.endswith((".nbi", ".nbc")):
                os.replace(os.path.join(folder, name), os.path.join(folder, name + ".damaged"))
        what = "moved the damaged files aside (*.damaged) and rebuilt them"
    except OSError:
        cache.disable()
        what = "could not move them aside; those kernels are compiled without caching"
    _warn_once("damaged", f"numba's kernel cache in {folder} is damaged ({type(error).__name__}: "
               f"{error}); {what}")
