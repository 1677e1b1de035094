"""Launch the MPI worker scripts of ``tests/mpi_cases`` under ``mpiexec -n K`` (with a timeout,
so a hang fails) and parse their ``PASS`` / ``FAIL`` lines."""

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "mpi_cases"


def mpiexec() -> str | None:
    """The mpiexec next to this Python (the mpich wheel's), else the one on PATH."""
    local = Path(sys.executable).parent / "mpiexec"
    return str(local) if local.exists() else shutil.which("mpiexec")


def skip_reason() -> str | None:
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi4py is not installed (pip install '.[mpi]')"
    if mpiexec() is None:
        return "no mpiexec launcher found (pip install '.[mpi]' brings MPICH's)"
    return None


needs_mpi = pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason()))


@functools.cache
def _oversubscribe() -> list[str]:
    out = subprocess.run([mpiexec(), "--version"], capture_output=True, text=True, timeout=30)
    return ["--oversubscribe"] if "Open MPI" in out.stdout + out.stderr else []


def worker_env() -> dict[str, str]:
    """The checkout under test first on the path; one thread per rank (K ranks share 2 cores)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(CASES), env.get("PYTHONPATH", "")])
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "MKL_NUM_THREADS"):
        env[var] = "1"
    return env


def run_mpi(k: int, args: list[str], timeout: float = 120,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``mpiexec -n k python ARGS``; a timeout fails the test (a hang is a bug)."""
    cmd = [mpiexec(), "-n", str(k), *_oversubscribe(), sys.executable, *args]
    try:
        return subprocess.run(cmd, env=worker_env(), capture_output=True, text=True,
                              timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{' '.join(cmd)} hung (> {timeout} s); output so far:\n{e.stdout}\n{e.stderr}")


CASE_MODULES = ("clip_cases", "dp_cases")


@functools.cache
def run_cases(k: int) -> tuple[int, frozenset[str], str]:
    """Run every module of ``CASE_MODULES`` in ONE job on ``k`` ranks, once per session:
    (rc, names of the checks that passed, output)."""
    res = run_mpi(k, [str(CASES / "run_cases.py"), *CASE_MODULES], timeout=240)
    passed = frozenset(line.split()[1] for line in res.stdout.splitlines()
                       if line.startswith("PASS "))
    return res.returncode, passed, res.stdout + res.stderr


def assert_case(k: int, name: str) -> None:
    rc, passed, output = run_cases(k)
    assert name in passed, f"{name} did not pass on {k} ranks (rc {rc}):\n{output[-4000:]}"
