"""CI's second run holds every library to an instruction set below the CPU's own
(``eval "$(python .ci/isa_env.py)"``, which sets ``TINYCLIPNN_ISA``). These tests prove the
hold took effect, so a green lower-ISA run really ran the lower ISA."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ISA = os.environ.get("TINYCLIPNN_ISA")
ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.numerics
held = pytest.mark.skipif(ISA is None, reason="runs only with the ISA held lower (.ci/isa_env.py)")
TOO_WIDE = {"avx2": "zmm", "sse4.2": "ymm"}  # registers code of that level never uses


def _isa_env_module():
    spec = importlib.util.spec_from_file_location("isa_env", ROOT / ".ci" / "isa_env.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_isa_env_holds_each_level_below_avx512():
    """The exports switch off every feature above the level and name the level."""
    isa_env = _isa_env_module()
    for level in isa_env.LEVELS:
        env = isa_env.isa_env(level)
        on = {f[1:] for f in env["NUMBA_CPU_FEATURES"].split(",") if f.startswith("+")}
        assert not any(f.startswith("avx512") for f in on) and env["TINYCLIPNN_ISA"] == level
        assert "X86_V4" in env["NPY_DISABLE_CPU_FEATURES"].split() or "X86_V4" not in \
            isa_env._numpy_dispatch()
        if level == "sse4.2":
            assert not on & {"avx", "avx2", "fma", "f16c"}
    out = subprocess.run([sys.executable, str(ROOT / ".ci" / "isa_env.py")], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert "export NUMBA_CPU_FEATURES=" in out and "export TINYCLIPNN_ISA=" in out


@held
def test_numba_compiles_for_the_held_level():
    from numba import njit

    @njit
    def total(a):
        s = 0.0
        for v in a:
            s += v * v
        return s

    x = np.ones(1000, np.float32)
    assert total(x) == 1000.0
    asm = total.inspect_asm(total.signatures[0])
    assert TOO_WIDE[ISA] not in asm


@held
def test_numpy_dispatches_no_wider_than_the_held_level():
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # numpy 1.x
        from numpy.core._multiarray_umath import __cpu_features__
    assert not __cpu_features__.get("X86_V4", False) and not __cpu_features__.get("AVX512_ICL", False)
    if ISA == "sse4.2":
        assert not __cpu_features__.get("X86_V3", False)


@held
def test_openblas_runs_the_held_core():
    cores = [core.lower() for _, core in _isa_env_module().openblas_cores()]
    if not cores:
        pytest.skip("numpy is not linked to OpenBLAS here")
    assert cores == [os.environ["OPENBLAS_CORETYPE"].lower()] * len(cores)


@held
def test_torch_runs_the_held_capability():
    torch = pytest.importorskip("torch")
    expected = {"avx2": "AVX2", "sse4.2": "DEFAULT"}[ISA]
    assert torch.backends.cpu.get_cpu_capability() == expected
