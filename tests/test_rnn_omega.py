"""Pascanu et al.'s vanishing-gradient regularizer Ω (`nn.RNN(vanishing_penalty=...)`): the numpy
reference against closed forms and finite differences, the fused kernel against the composed
path, and the gradient it adds to ``weight_hh``."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinyclipnn as tc
from tinyclipnn import nn
from tinyclipnn.kernels.cpu.rnn_omega import omega_fused
from tinyclipnn.kernels.cpu.rnn_omega_reference import act_derivative, omega_reference


def test_closed_form_scaled_identity():
    """h = 0 (tanh' = 1) and W = s I: every ratio is s^2, so Ω = (s^2 - 1)^2 for any g."""
    rng = np.random.default_rng(0)
    g = rng.standard_normal((4, 3, 5))
    for s in (0.5, 1.0, 1.7):
        w = s * np.eye(5)
        om, dw, n = omega_reference(g, np.zeros_like(g), w)
        assert n == 12 and om == pytest.approx((s * s - 1) ** 2, rel=1e-12)
        # the fused kernel from the same quantities (T = 1 per call: g = dy + dh_n, dh_n = 0)
        om_k, dw_k, n_k = omega_fused(g[:1], g[:1], np.zeros((3, 5)), w, lengths=np.ones(3, int))
        assert n_k == 3 and om_k == pytest.approx((s * s - 1) ** 2, rel=1e-12)


def test_closed_form_scalar():
    """H = T = B = 1: Ω = ((1-h^2)^2 w^2 - 1)^2, dΩ/dw = 4 ((1-h^2)^2 w^2 - 1) (1-h^2)^2 w."""
    g, h, w = 0.7, 0.4, 1.3
    d2 = (1 - h * h) ** 2
    om, dw, n = omega_reference(np.full((1, 1, 1), g), np.full((1, 1, 1), h), np.full((1, 1), w))
    assert n == 1
    assert om == pytest.approx((d2 * w * w - 1) ** 2, rel=1e-13)
    assert dw[0, 0] == pytest.approx(4 * (d2 * w * w - 1) * d2 * w, rel=1e-13)
    # relu: act' = 1 where h > 0, 0 elsewhere
    om_relu, _, _ = omega_reference(np.full((1, 1, 1), g), np.full((1, 1, 1), -0.1),
                                    np.full((1, 1), w), act="relu")
    assert om_relu == pytest.approx(1.0)
    # sigmoid: act' = h (1 - h) (their code's sigmoid branch), so Ω = ((h(1-h))^2 w^2 - 1)^2
    s2 = (h * (1 - h)) ** 2
    om_sig, dw_sig, _ = omega_reference(np.full((1, 1, 1), g), np.full((1, 1, 1), h),
                                        np.full((1, 1), w), act="sigmoid")
    assert om_sig == pytest.approx((s2 * w * w - 1) ** 2, rel=1e-13)
    assert dw_sig[0, 0] == pytest.approx(4 * (s2 * w * w - 1) * s2 * w, rel=1e-13)
    with pytest.raises(ValueError, match="act must be one of"):
        omega_reference(np.ones((1, 1, 1)), np.ones((1, 1, 1)), np.ones((1, 1)), act="gelu")


def test_bound_and_mask_leave_terms_out():
    g = np.ones((3, 2, 2))
    g[1, 0] = 1e-11  # ||g||^2 = 2e-22 < 1e-20: left out
    valid = np.ones((3, 2), bool)
    valid[2, 1] = False
    om, _, n = omega_reference(g, np.zeros_like(g), 2 * np.eye(2), valid)
    assert n == 4 and om == pytest.approx(9.0)
    om, dw, n = omega_reference(np.zeros((2, 1, 3)), np.zeros((2, 1, 3)), np.eye(3))
    assert (om, n) == (0.0, 0) and not dw.any()


@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid"])
def test_gradient_matches_finite_differences(act):
    """dΩ/dW_hh with g and h frozen, against central differences in float64."""
    rng = np.random.default_rng(1)
    T, B, H = 5, 3, 4
    g, h = rng.standard_normal((T, B, H)), np.tanh(rng.standard_normal((T, B, H)))
    if act == "sigmoid":
        h = 0.5 + 0.5 * h  # a sigmoid's outputs lie in (0, 1)
    w = rng.standard_normal((H, H)) * 0.7
    valid = rng.random((T, B)) > 0.2
    _, dw, _ = omega_reference(g, h, w, valid, act)
    fd = np.zeros_like(w)
    eps = 1e-6
    for i in range(H):
        for j in range(H):
            wp, wm = w.copy(), w.copy()
            wp[i, j] += eps
            wm[i, j] -= eps
            fd[i, j] = (omega_reference(g, h, wp, valid, act)[0]
                        - omega_reference(g, h, wm, valid, act)[0]) / (2 * eps)
    np.testing.assert_allclose(dw, fd, rtol=1e-6, atol=1e-8)


def _run(fused, dtype, alpha, *, nonlinearity="tanh", bidirectional=False, lengths=None,
         clip=None, mode="value", num_layers=1, seed=0):
    tc.manual_seed(seed)
    layer = nn.RNN(3, 5, num_layers, nonlinearity=nonlinearity, bidirectional=bidirectional,
                   fused=fused, vanishing_penalty=alpha, bptt_clip=clip, bptt_clip_mode=mode,
                   dtype=dtype)
    rng = np.random.default_rng(seed)
    for p in layer.parameters():
        p.data[...] = (rng.standard_normal(p.shape) * 0.6).astype(dtype)
    x = tc.tensor(rng.standard_normal((6, 4, 3)).astype(dtype))
    out, hn = layer(x, lengths=lengths)
    coef = tc.tensor(rng.standard_normal(out.shape).astype(dtype))
    ((out * coef).sum() + (hn * hn).sum()).backward()
    return layer, {k: v.grad.copy() for k, v in layer.named_parameters()}


CASES = [dict(), dict(nonlinearity="relu"), dict(nonlinearity="sigmoid"),
         dict(nonlinearity="sigmoid", bidirectional=True, lengths=np.array([6, 3, 0, 1]), clip=0.3),
         dict(bidirectional=True),
         dict(lengths=np.array([6, 3, 0, 1])), dict(clip=0.3), dict(clip=0.5, mode="norm"),
         dict(num_layers=2, bidirectional=True, lengths=np.array([2, 6, 5, 1]), clip=0.4)]


@pytest.mark.parametrize("case", CASES, ids=lambda c: ",".join(f"{k}" for k in c) or "plain")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_matches_composed(case, dtype):
    tol = 1e-9 if dtype == np.float64 else 2e-4
    lf, gf = _run(True, dtype, 0.7, **case)
    lc, gc = _run(False, dtype, 0.7, **case)
    assert set(lf.omega) == set(lc.omega) and len(lf.omega) == lf.num_layers * (
        2 if lf.bidirectional else 1)
    for k in lf.omega:
        assert lf.omega[k] > 0
        assert lf.omega[k] == pytest.approx(lc.omega[k], rel=tol, abs=tol)
    for k in gf:
        np.testing.assert_allclose(gf[k], gc[k], rtol=tol, atol=tol, err_msg=k)


@pytest.mark.parametrize("fused", [True, False])
def test_penalty_adds_alpha_times_omega_gradient_to_weight_hh_only(fused):
    _, g0 = _run(fused, np.float64, 0.0)
    l1, g1 = _run(fused, np.float64, 1.0)
    l2, g2 = _run(fused, np.float64, 2.5)
    assert l1.omega["l0"] == pytest.approx(l2.omega["l0"], rel=1e-12)
    for k in g0:
        if k == "weight_hh_l0":
            assert not np.allclose(g1[k], g0[k])
            np.testing.assert_allclose(g2[k] - g0[k], 2.5 * (g1[k] - g0[k]), rtol=1e-9,
                                       atol=1e-12)
        else:
            np.testing.assert_allclose(g1[k], g0[k], rtol=1e-12, atol=0)


def test_zero_penalty_reports_nothing_and_bad_values_raise():
    layer, _ = _run(True, np.float64, 0.0)
    assert layer.omega == {}
    for bad, error in ((-1.0, ValueError), (float("nan"), ValueError), (float("inf"), ValueError),
                       ("0.1", TypeError), (None, TypeError)):
        with pytest.raises(error, match="vanishing_penalty"):
            nn.RNN(2, 3, vanishing_penalty=bad)


def _consistent_bptt(rng, T, B, H, lengths, reverse, clip, dtype, act="tanh"):
    """States h_t and the BPTT quantities the fused kernel sees (dxw, dy, dh_n), built by
    running the backward recurrence in plain numpy: g_t = clip(dy_t + v_{next} W), v_t = g_t
    act'(h_t). Returns (kernel inputs, g for the reference, valid mask)."""
    h = np.tanh(rng.standard_normal((T, B, H)) * 1.5).astype(dtype)
    if act == "sigmoid":
        h = (0.5 + 0.5 * h).astype(dtype)
    w = (rng.standard_normal((H, H)) * 0.8).astype(dtype)
    dy, dh_n = (rng.standard_normal((T, B, H)).astype(dtype),
                rng.standard_normal((B, H)).astype(dtype))
    lens = np.full(B, T) if lengths is None else lengths
    g, v = np.zeros((T, B, H), dtype), np.zeros((T, B, H), dtype)
    for b in range(B):
        inc = dh_n[b]
        order = range(lens[b]) if reverse else range(lens[b] - 1, -1, -1)
        for t in order:
            gt = dy[t, b] + inc
            if clip[0] == "value":
                gt = np.clip(gt, -clip[1], clip[1])
            elif clip[0] == "norm" and np.linalg.norm(gt) > clip[1]:
                gt = gt * (clip[1] / np.linalg.norm(gt.astype(np.float64)))
            g[t, b], v[t, b] = gt, gt * act_derivative(h[t, b], act)
            inc = v[t, b] @ w
    valid = np.arange(T)[:, None] < lens[None, :]
    return (v, dy, dh_n, w), g, h, valid


@settings(max_examples=60, deadline=None)
@given(T=st.integers(0, 4), B=st.integers(0, 3), H=st.integers(1, 4), reverse=st.booleans(),
       clip=st.sampled_from([(None, 0.0), ("value", 0.3), ("norm", 0.5)]),
       dtype=st.sampled_from([np.float64, np.float32]), seed=st.integers(0, 2**16),
       ragged=st.booleans(), strided=st.booleans(), act=st.sampled_from(["tanh", "sigmoid"]))
def test_kernel_matches_reference(T, B, H, reverse, clip, dtype, seed, ragged, strided, act):
    """omega_fused (Numba, from BPTT outputs) == omega_reference (from g_t, h_t): empty, size-1,
    ragged lengths, both directions, clipping, float32/64, non-contiguous inputs, tanh and
    sigmoid units."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, T + 1, B) if ragged else None
    (v, dy, dh_n, w), g, h, valid = _consistent_bptt(rng, T, B, H, lengths, reverse, clip, dtype,
                                                     act)
    if strided:  # same values, non-contiguous views
        v, dy = (np.asfortranarray(a) for a in (v, dy))
        w = np.ascontiguousarray(w.T).T
    om_k, dw_k, n_k = omega_fused(v, dy, dh_n, w, lengths, reverse, *clip)
    om_r, dw_r, n_r = omega_reference(g, h, w, valid, act)
    tol = 1e-10 if dtype == np.float64 else 2e-3
    assert n_k == n_r
    assert om_k == pytest.approx(om_r, rel=tol, abs=tol)
    assert dw_k.dtype == dtype and dw_k.shape == (H, H)
    np.testing.assert_allclose(dw_k, dw_r, rtol=tol, atol=tol * max(1.0, np.abs(dw_r).max()))


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_nonfinite_and_huge_gradients():
    """A non-finite state gradient makes Ω nan in both (no silent 0); huge finite ones stay finite
    (sums in float64)."""
    g = np.full((2, 1, 3), 1e30, np.float32)
    h = np.zeros_like(g)
    w = np.eye(3, dtype=np.float32) * 0.5
    om, dw, n = omega_reference(g, h, w)
    om_k, dw_k, n_k = omega_fused(g, g, np.zeros((1, 3), np.float32), w,
                                  lengths=np.array([1]))
    assert n == 2 and om == pytest.approx(0.5625) and n_k == 1 and om_k == pytest.approx(0.5625)
    g[0, 0, 1] = np.inf
    assert np.isnan(omega_reference(g, h, w)[0])
    assert np.isnan(omega_fused(g[:1], g[:1], np.zeros((1, 3), np.float32), w,
                                lengths=np.array([1]))[0])


def test_without_numba_the_fused_layer_falls_back_with_omega(monkeypatch):
    from tinyclipnn.nn import rnn

    lf, gf = _run(True, np.float64, 0.7, bidirectional=True)
    monkeypatch.setattr(rnn, "_fused_layer", lambda: None)
    lc, gc = _run(True, np.float64, 0.7, bidirectional=True)
    assert lc.omega == pytest.approx(lf.omega, rel=1e-9)
    np.testing.assert_allclose(gc["weight_hh_l0"], gf["weight_hh_l0"], rtol=1e-9, atol=1e-12)
