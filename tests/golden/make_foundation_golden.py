"""Write tests/golden/foundation.npz: PyTorch's numbers for op compositions, cross-entropy and
the three optimizers, so CI (without torch) still compares against PyTorch.

Run with torch installed:  python tests/golden/make_foundation_golden.py
"""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from foundation_cases import COMPOSITIONS, OPTIMIZERS, ce_inputs, optim_inputs  # noqa: E402


def main() -> None:
    out = {}
    for name, (fn, shapes) in COMPOSITIONS.items():
        rng = np.random.default_rng(sum(name.encode()))
        xs = [rng.uniform(0.5, 1.5, s) for s in shapes]
        ts = [torch.tensor(x, requires_grad=True) for x in xs]
        y = fn(torch, *ts)
        y.backward(torch.ones_like(y))
        for i, x in enumerate(xs):
            out[f"{name}/in{i}"] = x
            out[f"{name}/grad{i}"] = ts[i].grad.numpy()
        out[f"{name}/out"] = y.detach().numpy()
    logits, target = ce_inputs()
    for red in ("mean", "sum", "none"):
        z = torch.tensor(logits, requires_grad=True)
        loss = torch.nn.functional.cross_entropy(z, torch.tensor(target), reduction=red,
                                                 ignore_index=-100)
        loss.backward(torch.ones_like(loss))
        out[f"ce_{red}/out"] = loss.detach().numpy()
        out[f"ce_{red}/grad"] = z.grad.numpy()
    p0, grads = optim_inputs()
    for name, (cls_name, kw) in OPTIMIZERS.items():
        p = torch.nn.Parameter(torch.tensor(p0))
        opt = getattr(torch.optim, cls_name)([p], **kw)
        traj = []
        for g in grads:
            p.grad = torch.tensor(g)
            opt.step()
            traj.append(p.detach().numpy().copy())
        out[f"optim_{name}"] = np.array(traj)
    path = os.path.join(os.path.dirname(__file__), "foundation.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {path} ({len(out)} arrays, torch {torch.__version__})")


if __name__ == "__main__":
    main()
