"""Demos built on the autograd/nn/optim/clip stack: expected qualitative results on fixed seeds."""

import numpy as np
import pytest

from tinyclipnn.lab import MetricsRecorder, run_demo


def test_exploding_plain_sgd_blows_up_at_long_t_where_clipping_stays_stable():
    pytest.importorskip("tinyclipnn.clip")
    from tinyclipnn.lab.demos.exploding import train_one

    rec = MetricsRecorder()
    short = train_one("addition", 20, "none", 1, 300, 300, rec, "plain20", True)
    plain = train_one("addition", 100, "none", 1, 300, 300, rec, "plain100", True)
    clip = train_one("addition", 100, "norm:1", 1, 300, 300, rec, "clip100", True)
    assert not short["blew_up"] and short["error"] < 0.5  # plain SGD is fine at T = 20 ...
    assert plain["blew_up"] and plain["error"] == 1.0  # ... and its loss hits inf at T = 100
    assert np.nanmax(rec.column("total_norm", "plain100")) > 1e10
    assert not clip["blew_up"] and clip["error"] < 0.5  # same lr, clipped: stays finite
    assert np.all(rec.column("total_norm", "clip100") < 1e3)
    clipped = rec.column("clipped", "clip100")
    assert 0.1 < clipped.mean() < 1.0  # clipping was active, but not on every step


@pytest.mark.slow
def test_exploding_quick_mode(tmp_path):
    r = run_demo("exploding", quick=True, seed=0, out=tmp_path, quiet=True)
    st, blew = r.summary["stable"], r.summary["blew_up"]
    for key in st["plain SGD"]:
        assert st["SGD + clip"][key] >= st["plain SGD"][key]
        assert blew["SGD + clip"][key] == 0
    assert st["plain SGD"]["T=20"] == 1.0  # plain SGD trains stably at short T ...
    assert blew["plain SGD"]["T=100"] == 2  # ... and blows up to inf/nan at long T: gap grows
    assert (tmp_path / "metrics.csv").exists()


def test_spirals_quickstart(tmp_path):
    r = run_demo("spirals", quick=True, seed=0, out=tmp_path, quiet=True)
    assert r.summary["train_accuracy"] > 0.95
    assert 0.0 < r.summary["frac_clipped"] < 0.5
    assert (tmp_path / "metrics.json").exists()


def test_gradflow_profiles_vanish_explode_and_bptt_clip_caps():
    import numpy as np

    from tinyclipnn.data import get_task
    from tinyclipnn.lab.demos.gradflow import build, profile

    x, y = get_task("temporal_order")(8, 40, np.random.default_rng(0))
    van = profile(build("rnn", None, 0), x, y)
    exp = profile(build("rnn", 3.0, 0), x, y)
    capped = profile(build("rnn", 3.0, 0, bptt_clip=0.1, bptt_clip_mode="value"), x, y)
    assert van.shape == (40,) and van[0] < 1e-6 * van[-1]  # vanishing at default init
    assert exp[0] > 1e3 * exp[-1]  # exploding at spectral radius 3
    assert capped[0] < 1e-2 * exp[0]  # element-wise bptt clipping tames it


@pytest.mark.slow
def test_gradflow_quick_mode(tmp_path):
    r = run_demo("gradflow", quick=True, seed=0, out=tmp_path, quiet=True)
    s = r.summary
    assert s["log10_ratio_first_last_init"]["tanh RNN"] < -5
    assert s["log10_ratio_first_last_init"]["tanh RNN, ρ(W_hh)=3"] > 3
    assert abs(s["log10_ratio_first_last_trained"]["LSTM"]) < 3


def test_dp_quick_noise_and_tiny_clip_cost_accuracy(tmp_path):
    r = run_demo("dp", quick=True, seed=0, out=tmp_path, quiet=True)
    acc = r.summary["test_accuracy"]  # rows: clip norms 0.03, 1, 30; columns: sigma 0, 1
    assert acc[2][0] > 0.9  # no noise, loose clip: learns
    assert acc[0][0] < acc[2][0]  # a tiny clip norm slows learning
    assert acc[2][1] < acc[2][0]  # noise sigma*C with large C costs accuracy


def test_per_sample_grads_match_single_example_backward():
    import numpy as np

    import tinyclipnn as tc
    from tinyclipnn.lab.persample import PerSampleMLP
    from tinyclipnn.nn import functional as F

    tc.manual_seed(0)
    m = PerSampleMLP([2, 8, 3], act="relu")
    x = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    y = np.array([0, 1, 2, 1, 0])
    _, grads = m.per_sample_grads(x, y)
    for i in range(5):
        m.zero_grad()
        F.cross_entropy(m(x[i:i + 1]), y[i:i + 1]).backward()
        for p, g in zip(m.parameters(), grads, strict=True):
            np.testing.assert_allclose(p.grad, g[i], atol=1e-6)


@pytest.mark.slow
def test_charlm_quick_mode(tmp_path):
    r = run_demo("charlm", quick=True, seed=0, out=tmp_path, quiet=True)
    fc = r.summary["frac_clipped"]
    assert fc["none"] == 0.0 and fc["agc:0.05"] > 0 and fc["norm:0.5"] > 0
    assert all(np.isfinite(v) for v in r.summary["val_bpc"].values())
    assert (tmp_path / "samples.txt").exists()


def test_charlm_smoothness_measurement_is_finite():
    from tinyclipnn.lab import MetricsRecorder
    from tinyclipnn.lab.smoothness import measure_charlm_smoothness

    rec = MetricsRecorder()
    r = measure_charlm_smoothness("norm:0.5", 3, 0, rec, "s", True, hidden=8, seq_len=8,
                                  batch_size=2, max_chars=5000)
    assert r["grad_norm"].shape == (3,) and np.isfinite(r["smoothness"]).all()
    assert (r["smoothness"] > 0).all() and len(rec) == 3
