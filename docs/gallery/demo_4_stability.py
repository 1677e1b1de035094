"""
Stability for any step size: SGD against clipped SGD
====================================================

After Mai & Johansson (2021): least-fourth-power regression
``f(x) = mean((aᵢᵀx − bᵢ)⁴)/4``, convex but with gradients that grow cubically. Plain
single-sample SGD ``x −= α·g`` is stable only for small step sizes; clipped SGD
``x −= min(α, γ/‖g‖)·g`` (γ = 0.1) stays stable for every step size.

Quick run: 7 step sizes, 3 seeds, 1,500 steps. Full run: 19 step sizes, 5 seeds, 5,000 steps.
"""

# %%
from tinyclipnn.lab import run_demo

result = run_demo("stability", quick=True, seed=0, out="runs/stability", quiet=True)
print(result.text)

# %%
# The full run
# ------------
#
# .. image:: /../demos/figures/stability.png
#    :alt: final suboptimality against step size for SGD and clipped SGD
#
# See :doc:`/reproductions/mai2021` for the numbers.
