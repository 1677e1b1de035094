"""tinyclipnn where numba cannot cache or is not installed. Each case runs in a fresh
interpreter (subprocess, with a timeout) that imports this checkout's package."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

BLOCK_NUMBA = textwrap.dedent("""
    import sys

    class _NoNumba:
        def find_spec(self, name, path=None, target=None):
            if name == "numba" or name.startswith("numba."):
                raise ImportError("numba is blocked for this test")

    sys.meta_path.insert(0, _NoNumba())
""")

# clip (+ fused LSTM forward/backward when LSTM); prints the numbers and the warnings it saw
WORK = textwrap.dedent("""
    import warnings
    warnings.simplefilter("always")
    with warnings.catch_warnings(record=True) as caught:
        import numpy as np
        import tinyclipnn as tc
        from tinyclipnn.clip import clip_grad_norm_
        rng = np.random.default_rng(0)
        g = rng.standard_normal(300_000).astype(np.float32)
        values = [clip_grad_norm_([g], 1.0, backend=BACKEND)]
        if LSTM:  # the recurrent kernels (slower to compile)
            tc.manual_seed(0)
            lstm = tc.nn.LSTM(4, 8)
            x = tc.Tensor(rng.standard_normal((5, 3, 4)).astype(np.float32))
            y, _ = lstm(x)
            y.sum().backward()
            values += [y.data.sum(), lstm.weight_hh_l0.grad.sum()]
    print("RESULT", *(repr(float(v)) for v in values))
    for w in caught:
        if "tinyclipnn" in str(w.message):
            print("WARNING", str(w.message).replace(chr(10), " "))
""")
ALL, CLIP_ONLY = "BACKEND, LSTM = 'auto', True\n", "BACKEND, LSTM = 'numba', False\n"


def _python(code: str, env: dict | None = None, cwd: Path | None = None,
            args: tuple = ()) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                       env=full, cwd=cwd, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def _parse(out: str) -> tuple[list[float], list[str]]:
    result = [float(v) for v in next(ln for ln in out.splitlines()
                                     if ln.startswith("RESULT")).split()[1:]]
    return result, [ln[8:] for ln in out.splitlines() if ln.startswith("WARNING")]


@pytest.fixture(scope="module")
def reference():
    """The numbers with numba and a working cache (this process's environment)."""
    return _parse(_python("BACKEND, LSTM = 'numba', True\n" + WORK).stdout)[0]


def _unwritable(tmp: Path) -> dict:
    """Cache locations that cannot be created even by root: paths below a regular file."""
    (tmp / "afile").write_text("")
    bad = str(tmp / "afile" / "sub")
    return {"NUMBA_CACHE_DIR": bad, "HOME": bad, "XDG_CACHE_HOME": bad}


def test_kernels_compile_uncached_without_a_writable_cache(tmp_path, reference):
    pkg = tmp_path / "site"
    shutil.copytree(ROOT / "tinyclipnn", pkg / "tinyclipnn",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for folder in (pkg / "tinyclipnn" / "kernels", pkg / "tinyclipnn" / "kernels" / "cpu"):
        (folder / "__pycache__").write_text("")  # in-tree cache: cannot be a folder
    for dirpath, _, files in os.walk(pkg):  # read-only install (effective when not root)
        for f in files:
            os.chmod(os.path.join(dirpath, f), 0o444)
        os.chmod(dirpath, 0o555)
    try:
        out = _python(ALL + WORK, {"PYTHONPATH": str(pkg),
                                                     **_unwritable(tmp_path)},
                      cwd=tmp_path).stdout  # cwd: `python -c` imports from it first
    finally:
        for dirpath, _, _ in os.walk(pkg):
            os.chmod(dirpath, 0o755)
    result, warns = _parse(out)
    np.testing.assert_allclose(result, reference, rtol=1e-6)
    assert len(warns) == 1 and "without caching" in warns[0], warns
    assert not any("unavailable" in w for w in warns)


def _cache_files(folder: Path, suffix: str) -> list[Path]:
    return sorted(p for p in folder.rglob(f"*{suffix}"))


def test_damaged_cache_is_moved_aside_and_rebuilt_once(tmp_path, reference):
    """(Clipping kernels only, to save compile time: the recurrent ones use the same `njit`.)"""
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    code = CLIP_ONLY + WORK
    reference = reference[:1]
    cold = _python(code, env)
    first = _parse(cold.stdout)
    assert first == (reference, [])
    # a cold cache says once that it compiles (a first run must not look like a hang)
    assert cold.stderr.count("compiling kernels for first use, cached for later runs") == 1
    index = _cache_files(tmp_path / "cache", ".nbi")
    data = _cache_files(tmp_path / "cache", ".nbc")
    assert index and data
    for p in index + data[::2]:  # truncated index files and some data files
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    result, warns = _parse(_python(code, env).stdout)
    assert result == reference
    assert len(warns) == 1 and "damaged" in warns[0] and "rebuilt" in warns[0], warns
    assert _cache_files(tmp_path / "cache", ".damaged")
    warm = _python(code, env)
    assert _parse(warm.stdout) == (reference, [])  # the rebuilt cache is good
    assert "compiling" not in warm.stderr


def test_without_numba_rnn_layers_fall_back_with_one_warning(reference):
    out = _python(BLOCK_NUMBA + ALL + WORK).stdout
    result, warns = _parse(out)
    np.testing.assert_allclose(result, reference, rtol=1e-5)
    rnn = [w for w in warns if "composed" in w]
    assert len(rnn) == 1 and "numba" in rnn[0], warns


def test_without_numba_every_cli_command_works(tmp_path):
    cli = BLOCK_NUMBA + "from tinyclipnn.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    (tmp_path / "t.txt").write_text("the quick brown fox jumps over the lazy dog. " * 40)
    runs = [("info",), ("demo", "--list"), ("demo", "spirals", "--quick", "--quiet", "--out",
                                            str(tmp_path / "spirals")),
            ("train-charlm", "--text", str(tmp_path / "t.txt"), "--steps", "3", "--hidden", "8",
             "--seq-len", "8", "--batch-size", "2", "--quiet", "--out", str(tmp_path / "lm")),
            ("sample", str(tmp_path / "lm"), "--length", "10", "--prompt", "the")]
    outs = [_python(cli, cwd=tmp_path, args=a).stdout for a in runs]
    assert "numba" in outs[0] and "unavailable" in outs[0]
    assert (tmp_path / "spirals" / "summary.json").exists()
    assert outs[-1].startswith("the") and len(outs[-1].strip()) == 13


@pytest.mark.timeout(300)
@pytest.mark.parametrize("cpu_env", [{"NUMBA_CPU_NAME": "generic"},
                                     {"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": "+avx2,-f16c"}],
                         ids=["generic", "no-f16c"])
def test_float16_clip_on_a_target_without_f16c(tmp_path, cpu_env, monkeypatch):
    """A portable kernel cache (``NUMBA_CPU_NAME=generic``) compiles for a CPU without F16C: the
    float16 kernels must take the bit-arithmetic path there, not call a conversion routine that
    Numba does not link (which killed the process with "Symbol not found: __extendhfsf2")."""
    code = textwrap.dedent("""
        import numpy as np
        from tinyclipnn.clip import clip_grad_norm_, clip_grad_value_
        rng = np.random.default_rng(0)
        g = (rng.standard_normal(70_000) * 3).astype(np.float16)
        a, b = g.copy(), g.copy()
        na = clip_grad_norm_([a], 1.0, backend="numba")
        nb = clip_grad_norm_([b], 1.0, backend="numpy")
        c, d = g.copy(), g.copy()
        clip_grad_value_([c], 0.5, backend="numba")
        clip_grad_value_([d], 0.5, backend="numpy")
        from tinyclipnn.kernels.cpu._f16c_items import HAVE_F16C
        print("RESULT", na, nb, int(np.array_equal(a, b)), int(np.array_equal(c, d)), int(HAVE_F16C))
    """)
    monkeypatch.delenv("NUMBA_CPU_FEATURES", raising=False)  # set when CI holds the ISA lower
    env = {**cpu_env, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    na, nb, same_norm_clip, same_value_clip, f16c = _parse(_python(code, env).stdout)[0]
    assert na == pytest.approx(nb, rel=1e-12)
    assert same_norm_clip == 1 and same_value_clip == 1 and f16c == 0
