"""Print shell `export` lines that hold numba, numpy, OpenBLAS and PyTorch to an instruction set
below this CPU's own, so tests (and benchmarks) can be run as on an older x86 CPU.

    eval "$(python .ci/isa_env.py)"            # one level below the host: avx2 on an AVX-512
                                               # CPU, sse4.2 on an AVX2 one
    eval "$(python .ci/isa_env.py --level avx2)"

Levels: "avx2" (x86-64-v3: Haswell / Zen 1-3) and "sse4.2" (x86-64-v2: Nehalem). Numba needs an
explicit feature list: NUMBA_CPU_NAME alone keeps the host's features (AVX-512 included).
Imports llvmlite and numpy only (no numba, no torch).
"""

from __future__ import annotations

import argparse
import shlex

# LLVM feature names each level may use (everything else the host has is switched off)
_V2 = {"64bit", "cmov", "cx8", "cx16", "fxsr", "mmx", "sse", "sse2", "sse3", "ssse3", "sse4.1",
       "sse4.2", "popcnt", "sahf", "crc32"}
_V3 = _V2 | {"avx", "avx2", "bmi", "bmi2", "f16c", "fma", "lzcnt", "movbe", "xsave"}

LEVELS = {
    # level: (allowed LLVM features, Numba CPU name, OpenBLAS core, numpy dispatch kept,
    #         PyTorch ATen capability, oneDNN ISA)
    "avx2": (_V3, "haswell", "Haswell", "X86_V3", "avx2", "AVX2"),
    "sse4.2": (_V2, "nehalem", "Nehalem", "X86_V2", "default", "SSE41"),
}
_NUMPY_ORDER = ["X86_V2", "X86_V3", "X86_V4", "AVX512_ICL", "AVX512_SPR"]


def _host_features() -> dict[str, bool]:
    from llvmlite import binding

    flags = binding.get_host_cpu_features().flatten().split(",")
    return {flag[1:]: flag[0] == "+" for flag in flags if flag}


def _numpy_dispatch() -> list[str]:
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__
    except ImportError:  # numpy 1.x
        from numpy.core._multiarray_umath import __cpu_dispatch__
    return list(__cpu_dispatch__)


def openblas_cores() -> list[tuple[str, str]]:
    """(file name, core kernel) of each OpenBLAS copy loaded in this process, e.g.
    ("libscipy_openblas64_-32a4b2a6.so", "Haswell"): what OPENBLAS_CORETYPE really selected."""
    import ctypes
    import os

    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower()})
    except OSError:
        return []
    cores = []
    for path in paths:
        lib = ctypes.CDLL(path)
        for symbol in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                       "openblas_get_corename64_", "openblas_get_corename"):
            if hasattr(lib, symbol):
                getattr(lib, symbol).restype = ctypes.c_char_p
                cores.append((os.path.basename(path), getattr(lib, symbol)().decode()))
                break
    return cores


def below_host() -> str:
    """The level one step below this CPU: avx2 on AVX-512 CPUs, sse4.2 otherwise."""
    return "avx2" if _host_features().get("avx512f") else "sse4.2"


def isa_env(level: str) -> dict[str, str]:
    """The environment variables that hold every library to ``level``."""
    allowed, numba_cpu, openblas, numpy_keep, aten, onednn = LEVELS[level]
    features = ",".join(("+" if on and name in allowed else "-") + name
                        for name, on in _host_features().items())
    rank = {name: i for i, name in enumerate(_NUMPY_ORDER)}
    too_new = [t for t in _numpy_dispatch() if rank.get(t, len(rank)) > rank[numpy_keep]]
    return {"NUMBA_CPU_NAME": numba_cpu, "NUMBA_CPU_FEATURES": features,
            "OPENBLAS_CORETYPE": openblas, "NPY_DISABLE_CPU_FEATURES": " ".join(too_new),
            "ATEN_CPU_CAPABILITY": aten, "ONEDNN_MAX_CPU_ISA": onednn, "TINYCLIPNN_ISA": level}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--level", choices=sorted(LEVELS), default=None,
                        help="default: one level below this CPU")
    level = parser.parse_args().level or below_host()
    for key, value in isa_env(level).items():
        print(f"export {key}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
