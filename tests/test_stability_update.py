"""The stability demo's clipped update is Mai & Johansson (2021)'s clipped SGD step
``x_{k+1} = x_k - min(alpha, gamma / ||g||) g`` (`demos.stability.clipped_step`)."""

import numpy as np

from tinyclipnn.lab.demos.stability import clipped_step


def test_step_length_is_capped_at_gamma_and_plain_below_it():
    rng = np.random.default_rng(0)
    g = rng.standard_normal((1000, 5)) * np.exp(rng.uniform(-8, 8, (1000, 1)))
    norm = np.linalg.norm(g, axis=1)
    gamma = 0.1
    for alpha in (1e-4, 1e-2, 1.0, 100.0):
        h = clipped_step(alpha, gamma, norm)
        moved = np.linalg.norm(h[:, None] * g, axis=1)
        assert (moved <= gamma * (1 + 1e-12)).all()  # never longer than gamma, for any alpha
        plain = alpha * norm <= gamma
        np.testing.assert_allclose(h[plain], alpha)  # the SGD step where it is short enough
        np.testing.assert_allclose(moved[~plain], gamma, rtol=1e-12)  # else length gamma
        # the same update as the gradient clipped at gamma / alpha, then times alpha
        clip = np.minimum(1.0, (gamma / alpha) / norm)[:, None] * g
        np.testing.assert_allclose(h[:, None] * g, alpha * clip, rtol=1e-12, atol=0)


def test_zero_gradient_gives_the_plain_step():
    assert clipped_step(0.5, 0.1, np.zeros(3)).tolist() == [0.5, 0.5, 0.5]
