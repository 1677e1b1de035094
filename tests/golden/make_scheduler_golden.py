"""Write tests/golden/schedulers.npz: PyTorch's learning rates (and momenta) for every case in
scheduler_cases.py over 100 epochs, so CI (without torch) still compares against PyTorch.

Run with torch installed:  python tests/golden/make_scheduler_golden.py
"""

import os
import sys
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from scheduler_cases import CASES, run_case  # noqa: E402


def main() -> None:
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the deprecated step(epoch) case warns
        for name in CASES:
            for key, arr in run_case(torch, name).items():
                out[f"{name}/{key}"] = arr
    path = os.path.join(os.path.dirname(__file__), "schedulers.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {path} ({len(out)} arrays, torch {torch.__version__})")


if __name__ == "__main__":
    main()
