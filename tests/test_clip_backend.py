"""Backend dispatch: lazy numba import, numpy fallback, thread-count determinism."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(code: str, **env) -> str:
    import os

    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=ROOT,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_import_does_not_import_numba():
    out = run(
        """
        import sys
        import tinyclipnn, tinyclipnn.clip
        print('numba' in sys.modules)
        """
    )
    assert out.strip() == "False"


def test_auto_falls_back_to_numpy_with_one_warning():
    out = run(
        """
        import sys, warnings
        sys.modules['numba'] = None  # simulate numba failing to import
        import numpy as np
        import tinyclipnn.clip as C
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            g = [np.full(4, 3.0, np.float32)]
            n1 = C.clip_grad_norm_(g, 1.0)
            C.clip_grad_value_(g, 0.1)
            n2 = C.get_total_norm(g)
        msgs = [str(x.message) for x in w if 'Numba CPU kernels could not be loaded' in str(x.message)]
        print(len(msgs), n1, round(n2, 6), C.get_backend().__name__)
        """
    )
    count, n1, n2, name = out.split()
    assert count == "1" and float(n1) == 6.0 and float(n2) == 0.2
    assert name == "tinyclipnn.kernels.reference"


def test_explicit_numba_backend_raises_when_missing():
    out = run(
        """
        import sys
        sys.modules['numba'] = None
        import numpy as np
        import tinyclipnn.clip as C
        try:
            C.clip_grad_norm_([np.ones(3)], 1.0, backend='numba')
        except ImportError as e:
            print('ImportError')
        """
    )
    assert out.strip() == "ImportError"


def test_bit_identical_across_thread_counts():
    pytest.importorskip("numba")
    code = """
        import hashlib
        import numpy as np
        import tinyclipnn.clip as C
        rng = np.random.default_rng(0)
        g = [rng.standard_normal(int(n)).astype(np.float32) for n in rng.integers(1, 200000, 12)]
        total = C.clip_grad_norm_(g, 1.0, backend='numba')
        print(repr(float(total)), hashlib.sha256(b"".join(a.tobytes() for a in g)).hexdigest())
        """
    outs = {run(code, NUMBA_NUM_THREADS=str(n)) for n in (1, 2)}
    assert len(outs) == 1
    assert np.isfinite(float(outs.pop().split()[0]))
