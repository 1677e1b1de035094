"""Regression tests for the bugs listed in issue 10 (and the clip items of issue 11): each
failed before its fix."""

import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import tinyclipnn.clip as C

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ["numpy", "numba"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_checks_run_on_every_call_not_only_the_first(backend):
    """An identity cache used to skip the checks for a list seen before."""
    arrs = [np.full(4, 3.0, np.float32), np.full(5, 2.0, np.float32)]
    C.clip_grad_norm_(arrs, 100.0, backend=backend)
    arrs[1].flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        C.clip_grad_norm_(arrs, 1.0, backend=backend)
    np.testing.assert_array_equal(arrs[0], 3.0)
    arrs[1].flags.writeable = True
    C.clip_grad_norm_(arrs, 100.0, backend=backend)
    arrs[1].dtype = np.int32  # same object, new dtype (same itemsize)
    with pytest.raises(TypeError, match="int32"):
        C.clip_grad_value_(arrs, 1.0, backend=backend)
    np.testing.assert_array_equal(arrs[0], 3.0)


def test_segment_table_cache_is_thread_safe():
    """Several threads clipping different lists used to raise KeyError (move_to_end after
    another thread evicted the key)."""
    from tinyclipnn.kernels.cpu._segments import segment_table

    lists = [[np.ones(3, np.float32)] for i in range(12)]  # more lists than cached tables
    errors = []

    def work(k):
        try:
            for r in range(3000):
                segment_table(lists[(k + r) % len(lists)])
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: the race shows within a second
    try:
        threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        sys.setswitchinterval(old)
    assert not errors, errors[:3]


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_gradient_twice_is_counted_and_scaled_once(backend):
    """A non-contiguous view given twice was counted twice in the norm but scaled once."""
    base = np.arange(1.0, 25.0).reshape(4, 6)
    view = base[:, ::2]
    norm = np.linalg.norm(view)
    total = C.clip_grad_norm_([view, view], 1.0, backend=backend)
    assert total == pytest.approx(norm)
    np.testing.assert_allclose(np.linalg.norm(view), 1.0, rtol=1e-6)
    contiguous = np.full(4, 2.0)
    assert C.clip_grad_norm_([contiguous, contiguous], 1.0, backend=backend) == pytest.approx(4.0)
    np.testing.assert_allclose(np.linalg.norm(contiguous), 1.0, rtol=1e-6)
    norms = C.clip_grad_norm_per_tensor_([view, contiguous, view], 10.0, backend=backend)
    assert norms[0] == norms[2]


@pytest.mark.parametrize("backend", BACKENDS)
def test_per_sample_zero_max_norm_and_bad_rng(backend):
    """max_norm=0 counted an all-zero example as clipped; rng="bad" scaled, then raised."""
    g = np.zeros((3, 4))
    g[1] = 1.0
    res = C.clip_per_sample_(g, 0.0, backend=backend)
    assert res.num_clipped == 1  # only the non-zero example (as Optax)
    h = np.full((2, 3), 5.0)
    with pytest.raises(TypeError, match="rng"):
        C.clip_per_sample_(h, 1.0, noise_multiplier=1.0, rng="bad", backend=backend)
    np.testing.assert_array_equal(h, 5.0)


def test_exhausted_generator_warns_like_pytorch():
    ps = [SimpleNamespace(grad=np.ones(3))]
    gen = (p for p in ps)
    list(gen)
    with pytest.warns(UserWarning, match="empty generator"):
        assert C.clip_grad_norm_(gen, 1.0) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        C.clip_grad_norm_([], 1.0)  # an empty list is deliberate: no warning


def test_gradbuffer_validates_before_rebinding():
    """A (1,) grad on a (2, 3) parameter was broadcast; a wrong shape raised half-way."""
    ok = SimpleNamespace(data=np.zeros(2), grad=np.ones(2))
    bad = SimpleNamespace(data=np.zeros((2, 3)), grad=np.ones(1))
    g_ok = ok.grad
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(1,\)"):
        C.GradBuffer([ok, bad])
    assert ok.grad is g_ok  # nothing was rebound
    buf = C.GradBuffer([ok, SimpleNamespace(data=np.zeros((2, 3)), grad=None)])
    buf.params[1].grad = np.ones(1)
    buf.params[0].grad = np.full(2, 7.0)
    with pytest.raises(ValueError, match="shape"):
        C.clip_grad_norm_(buf, 1.0)
    assert buf.params[0].grad is not buf.views[0]  # the good one was not copied in either


def _run(code: str) -> str:
    import os

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_available_backends_never_raises_when_numba_import_breaks():
    out = _run(
        """
        import builtins, warnings
        real = builtins.__import__
        def broken(name, *a, **k):
            if name == "numba" or name.startswith("numba."):
                raise OSError("libllvmlite.so: cannot open shared object file")
            return real(name, *a, **k)
        builtins.__import__ = broken
        import numpy as np
        import tinyclipnn.clip as C
        print(C.available_backends())
        print(C.cuda_unavailable_reason() is not None)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            C.clip_grad_norm_([np.ones(3)], 1.0)
        print([str(x.message) for x in w])
        """
    )
    lines = out.strip().splitlines()
    assert lines[0] == "['numpy']" and lines[1] == "True"
    assert "OSError" in lines[2] and "libllvmlite" in lines[2] and "numpy backend" in lines[2]


def test_bfloat16_arrays_are_clipped_in_place_without_a_write_back():
    """A contiguous ml_dtypes bfloat16 array used to be gathered as a "copy" that shared its
    memory, so every call copied the whole gradient onto itself afterwards (write-back)."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    from tinyclipnn.clip._gather import gather

    for arr in (np.ones(10, ml_dtypes.bfloat16), np.ones((4, 6), ml_dtypes.bfloat16, order="F")):
        g = gather([arr], writable=True)
        assert g.copies == []
        assert np.shares_memory(g.groups[0].arrays[0], arr)
    strided = np.ones((4, 6), ml_dtypes.bfloat16)[:, ::2]  # not contiguous: a real copy
    assert len(gather([strided], writable=True).copies) == 1
    C.clip_grad_norm_([strided], 1.0)
    assert np.linalg.norm(strided.astype(np.float64)) == pytest.approx(1.0, rel=1e-2)
