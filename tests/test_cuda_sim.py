"""The CUDA kernels, run in CI under numba's simulator (no GPU needed).

``NUMBA_ENABLE_CUDASIM=1`` only takes effect if set before numba.cuda is first imported, so
the cases (``tests/cuda_sim_cases.py``: kernels vs the numpy reference;
``tests/cuda_sim_api_cases.py``: ``tinyclipnn.clip`` with ``backend="cuda"``) run in a
fresh pytest subprocess with that variable; this keeps them independent of test order and of
whatever this process imported.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run_sim(*files: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *files]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_cuda_kernels_and_api_under_simulator():
    pytest.importorskip("numba")
    r = _run_sim("tests/cuda_sim_cases.py", "tests/cuda_sim_api_cases.py")
    assert r.returncode == 0, f"simulator cases failed:\n{r.stdout[-6000:]}\n{r.stderr[-3000:]}"
