"""``tinyclipnn info``: versions, clipping backends, threads and the kernel cache location."""

from __future__ import annotations

import importlib
import os
import platform
import sys
from pathlib import Path
from typing import Any

from .. import __version__
from ..distributed import mpi_info  # mpi4py is imported inside, and only if installed

__all__ = ["collect_info", "format_info"]


def _version(module: str) -> str:
    try:
        return str(getattr(importlib.import_module(module), "__version__", "installed"))
    except Exception:  # noqa: BLE001 - any import failure means "not usable"
        return "not installed"


def _backends() -> dict[str, str]:
    """Backend name -> status text (asks ``tinyclipnn.clip`` when it can, probes otherwise)."""
    try:
        clip = importlib.import_module("tinyclipnn.clip")
        found = list(clip.available_backends())
        reason = getattr(clip, "cuda_unavailable_reason", lambda: None)
    except Exception:  # noqa: BLE001 - fall back to probing numba directly
        found, reason = ["numpy"], None
        try:
            import numba  # noqa: F401

            found.append("numba")
        except Exception:  # noqa: BLE001
            pass
    out = {}
    for name in ("numpy", "numba", "cuda"):
        if name == "cuda" and name in found:
            out[name] = f"available ({_cuda_device()})"
        elif name in found:
            out[name] = "available"
        else:
            why = reason() if (name == "cuda" and reason is not None) else None
            out[name] = f"unavailable ({why})" if why else "unavailable"
    return out


def _cuda_device() -> str:
    try:
        from numba import cuda

        name = cuda.get_current_device().name
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception as e:  # noqa: BLE001
        return f"device name unknown: {type(e).__name__}"


def _numba_runtime() -> dict[str, Any]:
    try:
        import numba
    except Exception:  # noqa: BLE001
        return {"threads": os.cpu_count(), "threading_layer": "n/a", "cache_dir": "n/a"}
    cache = os.environ.get("NUMBA_CACHE_DIR") or getattr(numba.config, "CACHE_DIR", "")
    if not cache:
        cache = str(Path(__file__).resolve().parents[1] / "kernels" / "cpu" / "__pycache__")
        cache += " (next to the kernel sources; set NUMBA_CACHE_DIR to move it)"
    return {"threads": numba.config.NUMBA_NUM_THREADS,
            "threading_layer": numba.config.THREADING_LAYER, "cache_dir": cache}


def collect_info() -> dict[str, Any]:
    """Everything ``tinyclipnn info`` prints, as a dict."""
    return {
        "tinyclipnn": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "versions": {m: _version(m) for m in ("numpy", "numba", "scipy", "matplotlib", "tqdm")},
        "backends": _backends(),
        **_numba_runtime(),
        "mpi": mpi_info(),
    }


def _format_mpi(mpi: dict[str, Any]) -> str:
    if mpi.get("mpi4py") == "not installed":
        return "not available (pip install 'tinyclipnn[mpi]' for mpi4py + MPICH)"
    if "error" in mpi:
        return f"mpi4py {mpi['mpi4py']}, MPI unusable: {mpi['error']}"
    library = " ".join(mpi["library"].split())
    where = f", {mpi['note']}" if "note" in mpi else f", rank {mpi['rank']}"
    return f"{library} (mpi4py {mpi['mpi4py']}), world size {mpi['world_size']}{where}"


def format_info(info: dict[str, Any]) -> str:
    """Human-readable text of :func:`collect_info`."""
    lines = [f"tinyclipnn {info['tinyclipnn']}  (Python {info['python']}, {info['platform']})",
             "versions:"]
    lines += [f"  {k:<11} {v}" for k, v in info["versions"].items()]
    lines.append("clipping backends:")
    lines += [f"  {k:<11} {v}" for k, v in info["backends"].items()]
    lines += [f"threads:      {info['threads']} numba threads, {info['cpu_count']} CPUs "
              f"(threading layer: {info['threading_layer']})",
              f"kernel cache: {info['cache_dir']}",
              f"MPI:          {_format_mpi(info['mpi'])}"]
    if info["versions"].get("matplotlib") == "not installed":
        lines.append("plots:        pip install 'tinyclipnn[plot]' to get PNG plots from demos")
    return "\n".join(lines)
