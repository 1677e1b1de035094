"""Fork safety: a child made by fork after large (threaded) clip and RNN calls finishes them.

Each scenario runs in its own interpreter under a timeout, so a regression (the child waiting
forever on the parent's copied thread pool) fails instead of hanging the suite.
"""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

PRELUDE = textwrap.dedent("""
    import os, sys, threading, time
    import multiprocessing as mp
    import numpy as np
    import tinyclipnn as tc
    from tinyclipnn.clip import clip_grad_norm_, clip_grad_value_
    from tinyclipnn.kernels import runtime

    def work(seed=0):
        rng = np.random.default_rng(seed)
        g = rng.standard_normal(1 << 19).astype(np.float32)   # >= 262,144: split over threads
        norm = clip_grad_norm_([g], 1.0)
        clip_grad_value_([g], 1e-3)
        lstm = tc.nn.LSTM(32, 256)                            # recurrent work split over threads
        x = tc.Tensor(rng.standard_normal((8, 64, 32)).astype(np.float32))
        y, _ = lstm(x)
        y.sum().backward()
        return round(float(norm), 3), float(np.abs(g).max()), lstm.weight_hh_l0.grad.shape

    expected = work()
    assert runtime._pool is not None, "the parent never used the thread pool: the test would prove nothing"
""")

SCENARIOS = {
    "pool": """
        with mp.get_context("fork").Pool(2) as pool:
            assert pool.map(work, [0, 0]) == [expected, expected]
    """,
    "bare_fork": """
        pid = os.fork()
        if pid == 0:
            code = 0 if work() == expected else 3
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
    """,
    "fork_while_a_thread_runs_kernels": """
        stop = threading.Event()
        def busy():
            while not stop.is_set():
                work(1)
        t = threading.Thread(target=busy, daemon=True)
        t.start()
        time.sleep(0.5)
        for _ in range(3):
            pid = os.fork()
            if pid == 0:
                ok = work() == expected and runtime._blas_depth == 0
                os._exit(0 if ok else 3)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0, status
        stop.set()
        t.join()
    """,
    "fork_while_another_thread_holds_the_runtime_lock": """
        held, release = threading.Event(), threading.Event()
        def holder():  # another thread inside the segment-table cache at the moment of fork
            with runtime._lock:
                held.set()
                release.wait()
        t = threading.Thread(target=holder, daemon=True)
        t.start()
        held.wait()
        pid = os.fork()
        if pid == 0:
            grads = [np.ones(n, np.float32) for n in (3, 70000, 5)]  # several: a segment table
            norm = clip_grad_norm_(grads, 1.0)
            os._exit(0 if abs(norm - np.sqrt(70008.0)) < 1e-2 else 3)
        release.set()
        t.join()
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
    """,
    "fork_while_another_thread_holds_the_generator_lock": """
        gen = tc.autograd.default_generator()
        held, release = threading.Event(), threading.Event()
        def holder():  # another thread drawing initial weights at the moment of fork
            with gen.bit_generator.lock:
                held.set()
                release.wait()
        t = threading.Thread(target=holder, daemon=True)
        t.start()
        held.wait()
        state = gen.bit_generator.state
        pid = os.fork()
        if pid == 0:
            same_stream = tc.autograd.default_generator().bit_generator.state == state
            layer = tc.nn.Linear(3, 4)  # draws from the global generator
            os._exit(0 if layer.weight.shape == (4, 3) and same_stream else 3)
        release.set()
        t.join()
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
    """,
}


def _run(code: str, env: dict, what: str) -> str:
    """Run ``code`` in a new session; on timeout kill the whole group (hung children too)."""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **env,
                            "PYTHONPATH": str(ROOT)}, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{what}: the forked child hung (thread pool copied without threads?)")
    assert proc.returncode == 0 and out.strip().splitlines()[-1:] == ["ok"], err[-3000:]
    return out


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_child_after_fork_finishes_threaded_work(name):
    _run(PRELUDE + textwrap.dedent(SCENARIOS[name]) + "\nprint('ok')\n",
         {"NUMBA_NUM_THREADS": "2"}, name)


def test_blas_thread_counts_come_back_in_a_child_forked_inside_one_thread():
    code = textwrap.dedent("""
        import os, threading
        from tinyclipnn.kernels import runtime
        libs = runtime.blas_libraries()
        before = [lib.get() for lib in libs]
        inside, release = threading.Event(), threading.Event()
        def hold():
            with runtime.one_blas_thread():
                inside.set()
                release.wait()
        t = threading.Thread(target=hold)
        t.start()
        inside.wait()
        pid = os.fork()
        if pid == 0:
            with runtime.one_blas_thread():  # would deadlock or stay at 1 thread without the reset
                pass
            ok = [lib.get() for lib in libs] == before and runtime._blas_depth == 0
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        release.set()
        t.join()
        assert os.waitstatus_to_exitcode(status) == 0, status
        print(before)
        print("ok")
    """)
    _run(code, {"OPENBLAS_NUM_THREADS": "2"}, "one_thread")
