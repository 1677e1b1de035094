"""Quick modes of the numpy-only demos reproduce their papers' qualitative result."""

import numpy as np
import pytest

from tinyclipnn.lab import run_demo


@pytest.mark.numerics
def test_cliff_clipping_converges_more_often(tmp_path):
    """Measured on Zen 4 natively and held to AVX2 and SSE4.2 (.ci/isa_env.py): converged
    fraction plain 0.46-0.48 / 0.79-0.81, clipped 0.65-0.66 / 0.89-0.90 (lr 1 / 3)."""
    r = run_demo("cliff", quick=True, seed=0, out=tmp_path, quiet=True)
    plain, clip = r.summary["converged_no_clip"], r.summary["converged_clip"]
    for lr in plain:
        assert clip[lr] >= plain[lr]
    assert sum(clip.values()) > sum(plain.values()) + 0.2
    assert (tmp_path / "metrics.csv").exists()


def test_cliff_gradient_matches_finite_differences():
    from tinyclipnn.lab.demos.cliff import loss_and_grad

    w, b, e = np.array([3.0, 6.0]), np.array([-1.0, -4.0]), 1e-6
    _, gw, gb = loss_and_grad(w, b)
    fd_w = (loss_and_grad(w + e, b)[0] - loss_and_grad(w - e, b)[0]) / (2 * e)
    fd_b = (loss_and_grad(w, b + e)[0] - loss_and_grad(w, b - e)[0]) / (2 * e)
    np.testing.assert_allclose(gw, fd_w, rtol=1e-5, atol=1e-10)
    np.testing.assert_allclose(gb, fd_b, rtol=1e-5, atol=1e-10)


def test_l0l1_gd_quadratic_clipped_linear(tmp_path):
    r = run_demo("l0l1", quick=True, out=tmp_path, quiet=True)
    for name in ("quartic", "double_well"):
        s = r.summary[name]
        assert 1.7 < s["slope_gd"] < 2.3
        assert s["slope_clipped"] < 1.3
        assert s["slope_gd"] > s["slope_clipped"] + 0.7


def test_stability_clipped_sgd_stable_for_all_step_sizes(tmp_path):
    r = run_demo("stability", quick=True, seed=0, out=tmp_path, quiet=True)
    s = r.summary
    assert s["clipped_diverged_alphas"] == []
    assert len(s["sgd_diverged_alphas"]) >= 3 and max(s["sgd_diverged_alphas"]) == 100.0
    assert s["largest_stable_alpha"]["clipped"] == 100.0
    assert s["largest_stable_alpha"]["sgd"] <= 1e-2
    alphas = np.array(s["alphas"])
    assert max(np.array(s["median_subopt_clipped"])[alphas >= 1e-3]) < 0.2


def test_demo_figures_written_when_matplotlib_present(tmp_path):
    pytest.importorskip("matplotlib")
    r = run_demo("stability", quick=True, out=tmp_path, quiet=True)
    assert [p.name for p in r.figures] == ["stability.png"]
    assert r.figures[0].stat().st_size > 10_000
