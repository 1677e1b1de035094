"""Write tests/golden/rnn_golden.npz: PyTorch's outputs and gradients for the cases in rnn_cases.py.

Run from the repository root with torch installed: ``python tests/golden/make_rnn_golden.py``.
The tests compare against this file when torch is not importable (and against live torch
when it is).
"""

from __future__ import annotations

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from rnn_cases import CASES, build, run_torch  # noqa: E402


def main() -> None:
    import torch

    arrays = {}
    for name in CASES:
        inputs = build(name)
        for k, v in {**inputs, **run_torch(name, inputs)}.items():
            arrays[f"{name}/{k}"] = v
    path = os.path.join(HERE, "rnn_golden.npz")
    np.savez_compressed(path, torch_version=np.array(torch.__version__), **arrays)
    print(f"wrote {path} ({os.path.getsize(path) / 1024:.1f} KiB, {len(arrays)} arrays)")


if __name__ == "__main__":
    main()
