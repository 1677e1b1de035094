"""Write tests/golden/modules.npz: PyTorch's outputs and gradients for the nn cases in
modules_cases.py, and the repr / names of its model, so CI (without torch) compares against
PyTorch.

Run with torch installed:  python tests/golden/make_modules_golden.py
"""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from modules_cases import MODULES, run_module, structure  # noqa: E402


def main() -> None:
    torch.set_default_dtype(torch.float64)  # as our float64 inputs: compare in float64
    out = {}
    for name in MODULES:
        for key, arr in run_module(torch, name).items():
            out[f"{name}/{key}"] = arr
    for key, value in structure(torch).items():
        out[f"structure/{key}"] = np.array(value)
    path = os.path.join(os.path.dirname(__file__), "modules.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {path} ({len(out)} arrays, torch {torch.__version__})")


if __name__ == "__main__":
    main()
