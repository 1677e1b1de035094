"""
Spirals: the quickstart run
===========================

An MLP (2-64-64-3, ReLU) learns the 3-arm spirals with SGD + momentum and global-norm
clipping (``norm:1.0``) passed as the optimizer's ``clipper=``: early large gradients are
clipped, later steps are not. This is the loop of the :doc:`15-line tour
</getting-started>`, with progress lines and plots.

Quick run: 300 full-batch steps. Full run: 1,500 steps.
"""

# %%
from tinyclipnn.lab import run_demo

result = run_demo("spirals", quick=True, seed=0, out="runs/spirals", quiet=True)
print(result.text)

# %%
# The full run
# ------------
#
# .. image:: /../demos/figures/spirals_traces.png
#    :alt: loss, gradient norm and clipped steps over training
#
# .. image:: /../demos/figures/spirals_regions.png
#    :alt: decision regions of the trained MLP on the spirals
