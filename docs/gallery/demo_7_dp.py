"""
Per-example clipping (DP-SGD)
=============================

DP-SGD-style clipping with ``clip_per_sample_``: each example's gradient clipped to norm C
across all tensors, summed, plus Gaussian noise N(0, (σC)²), on the spirals task (MLP 2-64-3,
batch 64). The per-example gradients come from one backward pass
(``tinyclipnn.lab.persample``). Test accuracy over the clip norm C and the noise multiplier σ.

Quick run: C ∈ {0.03, 1, 30} × σ ∈ {0, 1}, 200 steps. Full run: C ∈ {0.01 … 10} × σ ∈ {0, 0.5,
1, 2}, 600 steps.
"""

# %%
from tinyclipnn.lab import run_demo

result = run_demo("dp", quick=True, seed=0, out="runs/dp", quiet=True)
print(result.text)

# %%
# The full run
# ------------
#
# .. image:: /../demos/figures/dp.png
#    :alt: test accuracy against clip norm for four noise multipliers
#
# See :doc:`/reproductions/abadi2016` for the numbers and the trade-off they show.
