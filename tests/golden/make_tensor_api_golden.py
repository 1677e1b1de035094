"""Write tests/golden/tensor_api.npz: PyTorch's values, gradients and dtypes for the Tensor
API cases in tensor_api_cases.py, so CI (without torch) still compares against PyTorch.

Run with torch installed:  python tests/golden/make_tensor_api_golden.py
"""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from tensor_api_cases import COMPOSITIONS, VALUES, dtype_name, inputs, promotion_table  # noqa: E402


def main() -> None:
    out = {}
    for name, (fn, shapes) in COMPOSITIONS.items():
        ts = [torch.tensor(x, requires_grad=True) for x in inputs(name, shapes)]
        y = fn(torch, *ts)
        y.backward(torch.ones_like(y))
        out[f"{name}/out"] = y.detach().numpy()
        for i, t in enumerate(ts):
            out[f"{name}/grad{i}"] = t.grad.numpy()
    for name, fn in VALUES.items():
        y = fn(torch)
        out[f"{name}/value"] = y.numpy()
        out[f"{name}/dtype"] = np.array(dtype_name(y.dtype))
    out["promotion_table"] = np.array(promotion_table(torch))
    path = os.path.join(os.path.dirname(__file__), "tensor_api.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {path} ({len(out)} arrays, torch {torch.__version__})")


if __name__ == "__main__":
    main()
