"""Fused recurrent kernels (tinyclipnn/kernels/cpu/rnn*.py) against the numpy reference, and
gradcheck of the fused autograd node in float64."""

import numpy as np
import pytest

import tinyclipnn as tc
from tinyclipnn.kernels.cpu import rnn, rnn_kernels, rnn_reference
from tinyclipnn.kernels.rnn_cells import CELL_KINDS
from tinyclipnn.nn._rnn_direction import DirectionSpec
from tinyclipnn.nn._rnn_fused import FusedRecurrentLayer

MODES = ["RNN_TANH", "RNN_RELU", "RNN_SIGMOID", "LSTM", "GRU"]
CLIPS = [(None, 0.0), ("value", 0.05), ("norm", 0.2)]


def _problem(mode, dtype, T=5, B=3, H=4, seed=0):
    rng = np.random.default_rng(seed)
    G = CELL_KINDS[mode].gate_count * H
    arr = lambda *s, scale=1.0: (rng.standard_normal(s) * scale).astype(dtype)  # noqa: E731
    return dict(xw=arr(T, B, G), w_hh=arr(G, H, scale=0.6), b_hh=arr(G), h0=arr(B, H),
                c0=arr(B, H) if mode == "LSTM" else None, dy=arr(T, B, H), dh=arr(B, H),
                dc=arr(B, H) if mode == "LSTM" else None)


def _compare(mode, dtype, p, lengths, reverse, clip, tol):
    fk = rnn.forward(mode, p["xw"], p["w_hh"], p["b_hh"], p["h0"], p["c0"], lengths, reverse)
    fr = rnn_reference.forward(mode, p["xw"], p["w_hh"], p["b_hh"], p["h0"], p["c0"], lengths, reverse)
    for a, b in zip(fk[:3], fr[:3], strict=True):
        if b is not None:
            assert a.dtype == dtype
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    args = (p["dy"], p["dh"], p["dc"], p["w_hh"], lengths, reverse, *clip, True)
    gk = rnn.backward(mode, fk[3], *args)
    gr = rnn_reference.backward(mode, fr[3], *args)
    for name, a, b in zip(["dxw", "dw_hh", "db_hh", "dh0", "dc0", "norms"], gk, gr, strict=True):
        if b is not None:
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", MODES)
def test_kernels_match_reference(mode, dtype):
    tol = 1e-12 if dtype == np.float64 else 2e-5
    p = _problem(mode, dtype)
    for lengths in (None, np.array([5, 2, 0])):
        for reverse in (False, True):
            for clip in CLIPS:
                _compare(mode, dtype, p, lengths, reverse, clip, tol)


@pytest.mark.parametrize("mode", MODES)
def test_parallel_path_matches_reference(mode, monkeypatch):
    """Batches split over threads (each thread runs the whole time loop on its rows)."""
    monkeypatch.setattr(rnn, "PARALLEL_MIN_WORK", 0)
    p = _problem(mode, np.float64, T=6, B=19, H=5, seed=3)
    lengths = np.random.default_rng(1).integers(0, 7, 19)
    for reverse in (False, True):
        _compare(mode, np.float64, p, lengths, reverse, ("norm", 0.3), 1e-12)


def test_no_records_without_record_and_xw_untouched():
    p = _problem("LSTM", np.float64)
    xw = p["xw"].copy()
    y, h, c, saved = rnn.forward("LSTM", p["xw"], p["w_hh"], p["b_hh"], p["h0"], p["c0"])
    np.testing.assert_array_equal(p["xw"], xw)  # overwrite_xw=False copies
    out = rnn.backward("LSTM", saved, p["dy"], p["dh"], p["dc"], p["w_hh"])
    assert out[5] is None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_vectorised_exp_activations(dtype):
    x = np.concatenate([np.linspace(-120, 120, 2001), [0.0, 1e-9, -1e-9]]).astype(dtype)
    out = np.empty_like(x)
    rnn_kernels._act_rows(out, x, True)
    tol = 1e-15 if dtype == np.float64 else 3e-7
    np.testing.assert_allclose(out, np.tanh(x.astype(np.float64)), rtol=0, atol=tol)
    rnn_kernels._act_rows(out, x, False)
    sig = 1 / (1 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(out, sig, rtol=4 * np.finfo(dtype).eps, atol=1e-37)
    assert np.all(np.isfinite(out))


def test_argument_errors():
    p = _problem("GRU", np.float64)
    with pytest.raises(ValueError, match="mode"):
        rnn.forward("LSTMX", p["xw"], p["w_hh"], p["b_hh"], p["h0"])
    with pytest.raises(ValueError, match="lengths"):
        rnn.forward("GRU", p["xw"], p["w_hh"], p["b_hh"], p["h0"], lengths=[1, 2, 9])
    _, _, _, saved = rnn.forward("GRU", p["xw"], p["w_hh"], p["b_hh"], p["h0"])
    with pytest.raises(ValueError, match="clip_mode"):
        rnn.backward("GRU", saved, p["dy"], p["dh"], None, p["w_hh"], clip_mode="max")
    with pytest.raises(TypeError, match="float32 or float64"):
        rnn.forward("GRU", p["xw"].astype(np.float16), p["w_hh"], p["b_hh"], p["h0"])


@pytest.mark.parametrize("mode", MODES)
def test_fused_node_gradcheck_float64(mode):
    """Central differences through the whole fused node: x, W_ih, W_hh, biases, h0 (and c0)."""
    rng = np.random.default_rng(7)
    T, B, I, H = 4, 3, 2, 3
    G = CELL_KINDS[mode].gate_count * H
    t = lambda *s: tc.Tensor(rng.standard_normal(s) * 0.7, requires_grad=True)  # noqa: E731
    x, w_ih, w_hh, b_ih, b_hh, h0 = t(T, B, I), t(G, I), t(G, H), t(G), t(G), t(B, H)
    c0 = t(B, H) if mode == "LSTM" else None
    if mode == "RNN_RELU":  # keep pre-activations away from the kink at 0
        b_ih.data += 2.0
    lengths = np.array([4, 2, 3])
    for reverse in (False, True):
        def fn(*a, reverse=reverse):
            outs = FusedRecurrentLayer.apply(
                *a, spec=DirectionSpec(CELL_KINDS[mode], reverse=reverse, lengths=lengths))
            flat = [o.reshape(-1) for o in outs]
            return tc.concat(flat, axis=0)

        inputs = [x, w_ih, w_hh, b_ih, b_hh, h0] + ([c0] if c0 is not None else [None])
        assert tc.gradcheck(fn, inputs, eps=1e-6, atol=1e-7, rtol=1e-6)


def test_split_matmul_and_blas_thread_counts_restored(monkeypatch):
    from tinyclipnn.kernels import runtime
    from tinyclipnn.kernels.cpu import _blas

    monkeypatch.setattr(_blas, "SPLIT_MIN_WORK", 0)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((37, 9)), rng.standard_normal((37, 5))
    libs = runtime.blas_libraries()
    with runtime.one_blas_thread():
        with runtime.one_blas_thread():  # nested (or concurrent) users restore once, at the last exit
            pass
        assert all(lib.get() == 1 for lib in libs)
        np.testing.assert_allclose(_blas.matmul(a.T, b), a.T @ b, rtol=1e-12)
    before = [lib.get() for lib in libs]
    with runtime.one_blas_thread():
        pass
    assert [lib.get() for lib in libs] == before


@pytest.mark.parametrize("mode", MODES)
def test_np_dot_fallback_matches_reference(mode, monkeypatch):
    """Without numpy's cblas address (another BLAS build) the kernels use np.dot: same results."""
    from tinyclipnn.kernels.cpu import _cblas

    monkeypatch.setitem(_cblas._FOUND, "d", np.zeros(2, np.int64))
    p = _problem(mode, np.float64, T=6, B=4, H=3, seed=5)
    for reverse in (False, True):
        _compare(mode, np.float64, p, np.array([6, 3, 0, 1]), reverse, ("value", 0.1), 1e-12)


def test_cblas_handle_found_for_numpy_openblas():
    from tinyclipnn.kernels.cpu import _cblas

    if not _cblas._numpy_blas_paths():
        pytest.skip("numpy is not linked against a bundled OpenBLAS here")
    for dt in (np.float32, np.float64):
        addr, ilp64 = _cblas.gemm_handle(dt)
        assert addr != 0 and ilp64 in (0, 1)
    assert _cblas.kernel_name().endswith((".so", ".dylib")) or "openblas" in _cblas.kernel_name()


@pytest.mark.parametrize("mode", MODES)
def test_inference_forward_saves_nothing_and_agrees(mode):
    p = _problem(mode, np.float32, T=7, B=5, H=6, seed=2)
    lengths = np.array([7, 0, 3, 6, 1])
    args = (mode, p["xw"], p["w_hh"], p["b_hh"], p["h0"], p["c0"], lengths, True)
    full, light = rnn.forward(*args), rnn.forward(*args, save=False)
    for a, b in zip(full[:3], light[:3], strict=True):
        if a is not None:
            np.testing.assert_array_equal(a, b)
    assert all(s.shape[0] == 0 for s in light[3][3:] if s is not None and s.ndim == 3)


@pytest.mark.parametrize("T", [1, 2, 5, 9])
def test_gru_weight_gradient_chunks_cover_every_step(T, monkeypatch):
    """dW_hh's GRU n rows are formed a few steps at a time: any T, chunk count and lengths."""
    monkeypatch.setattr(rnn, "GRU_DW_CHUNKS", 3)
    p = _problem("GRU", np.float64, T=T, B=4, H=3, seed=T)
    lengths = np.array([T, T // 2, 0, 1])
    for reverse in (False, True):
        _compare("GRU", np.float64, p, lengths, reverse, (None, 0.0), 1e-12)
