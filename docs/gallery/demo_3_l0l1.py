"""
(L0, L1)-smoothness: why clipped gradient descent is faster
===========================================================

Zhang, He, Sra & Jadbabaie (2020): where curvature grows with the gradient
(``|f''| ≤ L0 + L1·|f'|``), fixed-step gradient descent must take steps small enough for the
steepest place it can meet, so its iteration count grows like D² with the start distance D,
while clipped GD (``h = min(η, γη/|f'(x)|)``) grows about linearly. Two functions: x⁴/4 and
the double well (x² − 1)²/4; GD gets the best safe fixed step for each D, clipped GD one
setting for all.

Quick run: 5 start distances (D = 3 to 32), no char-LSTM measurement. The full run: 9 start
distances (D = 2 to 100), and the local
smoothness of a character LSTM along 300 SGD steps.
"""

# %%
from tinyclipnn.lab import run_demo

result = run_demo("l0l1", quick=True, seed=0, out="runs/l0l1", quiet=True)
print(result.text)

# %%
# The full run
# ------------
#
# .. image:: /../demos/figures/l0l1.png
#    :alt: iterations against start distance for GD and clipped GD, and |f''| against |f'|
#
# .. image:: /../demos/figures/l0l1_charlm.png
#    :alt: local smoothness against gradient norm along a char-LSTM training run
#
# See :doc:`/reproductions/zhang2020` for the fitted exponents and what they mean.
