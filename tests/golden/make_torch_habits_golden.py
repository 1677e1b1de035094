"""Write tests/golden/torch_habits.npz: PyTorch's numbers for the issue-20 cases
(torch_habits_cases.py, charmodel_pytorch.py), so the comparisons run without torch too.

Run with torch installed:  python tests/golden/make_torch_habits_golden.py
"""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import charmodel_harness  # noqa: E402
from torch_habits_cases import (  # noqa: E402
    COMPOSITIONS,
    ERRORS,
    GAINS,
    INITS,
    OPTIMIZERS,
    VALUES,
    dtype_name,
    hook_run,
    inputs,
    optim_inputs,
)


def main() -> None:
    out = {}
    for name, (fn, shapes) in COMPOSITIONS.items():
        ts = [torch.tensor(x, requires_grad=True) for x in inputs(name, shapes)]
        y = fn(torch, *ts)
        y.backward(torch.ones_like(y))
        out[f"comp/{name}/out"] = y.detach().numpy()
        for i, t in enumerate(ts):
            out[f"comp/{name}/grad{i}"] = t.grad.numpy()
    for name, fn in VALUES.items():
        y = fn(torch)
        out[f"value/{name}/value"] = y.numpy()
        out[f"value/{name}/dtype"] = np.array(dtype_name(y.dtype))
    for name, fn in ERRORS.items():
        try:
            fn(torch)
        except Exception as e:  # the builtin class PyTorch raises
            cls = next(c for c in type(e).__mro__ if c.__module__ == "builtins")
            out[f"error/{name}"] = np.array(cls.__name__)
        else:
            raise AssertionError(f"{name}: torch raised nothing")
    p0, grads = optim_inputs()
    for name, (cls, kw) in OPTIMIZERS.items():
        p = torch.nn.Parameter(torch.tensor(p0.copy()))
        opt = getattr(torch.optim, cls)([p], **kw)
        traj = []
        for g in grads:
            p.grad = torch.tensor(g.copy())
            opt.step()
            traj.append(p.detach().numpy().copy())
        out[f"optim/{name}"] = np.array(traj)
    torch.manual_seed(0)
    for name, (fn, kw, shape) in INITS.items():
        t = torch.empty(shape, dtype=torch.float64)
        getattr(torch.nn.init, fn)(t, **kw)
        out[f"init/{name}/std"] = np.array(t.std().item())
    out["gains"] = np.array([torch.nn.init.calculate_gain(n, p) for n, p in GAINS])
    events, arrays = hook_run(torch)
    out["hooks/events"] = np.array(events)
    out.update({f"hooks/{k}": v for k, v in arrays.items()})
    out.update({f"charmodel/{k}": v for k, v in charmodel_harness.run("torch").items()})
    path = os.path.join(os.path.dirname(__file__), "torch_habits.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {path} ({len(out)} arrays, torch {torch.__version__})")


if __name__ == "__main__":
    main()
