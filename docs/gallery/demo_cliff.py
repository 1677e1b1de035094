"""
The cliff
=========

Test.
"""

# %%
from tinyclipnn.lab import run_demo

result = run_demo("cliff", quick=True, out="runs/cliff", quiet=True)
print(result.text)
