"""The clip decision (``kernels/clip_decision.py``) is written once and run three ways: as
plain Python (the numpy reference), compiled by ``numba.njit`` (the CPU kernels) and by
``numba.cuda.jit(device=True)`` (the GPU kernels, here under numba's simulator). All three
must give the same coefficient, bit for bit (any NaN counts as NaN: its sign bit is the
compiler's), over a table of totals and thresholds."""

import json
import math
import os
import subprocess
import sys
from itertools import product
from pathlib import Path

import numpy as np
import pytest

from tinyclipnn.kernels.clip_decision import EPS, NonFinite, clip_coefficient, held_back

ROOT = Path(__file__).resolve().parents[1]
TOTALS = [0.0, 5e-324, 1e-300, 1e-6, 0.5, 1.0, 1.0 + 1e-6, 2.0, 3.4e38, 1e300, 1.7e308,
          math.inf, math.nan]
MAX_NORMS = [0.0, 1e-300, 0.5, 1.0, 2.0, 1e300, math.inf]
CASES = list(product(TOTALS, MAX_NORMS, [int(p) for p in NonFinite]))

# runs under NUMBA_ENABLE_CUDASIM=1: the device function over CASES, coefficients as JSON
_DEVICE = """
import json, sys
import numpy as np
from numba import cuda
from tinyclipnn.kernels.clip_decision import EPS, clip_coefficient, held_back
coefficient = cuda.jit(device=True)(clip_coefficient)
holds = cuda.jit(device=True)(held_back)

@cuda.jit
def run(totals, max_norms, policies, out, held):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = coefficient(totals[i], max_norms[i], EPS, policies[i])
        held[i] = holds(totals[i], policies[i])

cases = json.loads(sys.stdin.read())
t, m, p = (np.array(c) for c in zip(*cases))
out, held = np.zeros(len(cases)), np.zeros(len(cases), np.bool_)
run[(len(cases) + 31) // 32, 32](t, m, p.astype(np.int64), out, held)
print(json.dumps([out.tolist(), held.tolist()]))
"""


def _python():
    return ([clip_coefficient(t, m, EPS, p) for t, m, p in CASES],
            [held_back(t, p) for t, _, p in CASES])


def _njit():
    numba = pytest.importorskip("numba")
    coefficient = numba.njit(error_model="numpy")(clip_coefficient)
    holds = numba.njit(held_back)
    return ([coefficient(t, m, EPS, p) for t, m, p in CASES],
            [holds(t, p) for t, _, p in CASES])


def _cuda_simulator():
    pytest.importorskip("numba")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    r = subprocess.run([sys.executable, "-c", _DEVICE], input=json.dumps(CASES), cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    coefs, held = json.loads(r.stdout.strip().splitlines()[-1])
    return coefs, held


def _assert_same(got, want):
    got, want = np.array(got, np.float64), np.array(want, np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    np.testing.assert_array_equal(got[ok].view(np.uint64), want[ok].view(np.uint64))


@pytest.mark.timeout(400)
def test_one_clip_decision_in_python_njit_and_cuda():
    want_coefs, want_held = _python()
    for coefs, held in (_njit(), _cuda_simulator()):
        _assert_same(coefs, want_coefs)
        assert held == want_held


def test_the_decision_is_pytorchs_with_the_policies():
    assert clip_coefficient(2.0, 1.0, EPS, NonFinite.PROPAGATE) == 1.0 / (2.0 + 1e-6)
    assert clip_coefficient(0.5, 1.0, EPS, NonFinite.PROPAGATE) == 1.0  # never above 1
    assert math.isnan(clip_coefficient(math.nan, 1.0, EPS, NonFinite.PROPAGATE))
    assert clip_coefficient(math.inf, 1.0, EPS, NonFinite.PROPAGATE) == 0.0
    for total in (math.inf, math.nan):
        assert clip_coefficient(total, 1.0, EPS, NonFinite.SKIP) == 1.0
        assert clip_coefficient(total, 1.0, EPS, NonFinite.ERROR) == 1.0
        assert clip_coefficient(total, 1.0, EPS, NonFinite.ZERO) == 0.0
        assert held_back(total, NonFinite.SKIP) and not held_back(total, NonFinite.PROPAGATE)
    assert not held_back(1e308, NonFinite.ZERO)


def test_import_tinyclipnn_compiles_nothing():
    code = ("import sys, tinyclipnn, tinyclipnn.clip, tinyclipnn.kernels.clip_decision; "
            "print('numba' in sys.modules)")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout.strip()
    assert out == "False"
