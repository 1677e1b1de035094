"""Write tests/golden/clip_golden.npz: PyTorch's clip_grad_norm_ / clip_grad_value_ results.

Run with torch installed (``python tests/golden/make_clip_golden.py``); tests compare against
the npz, so CI without torch still checks PyTorch parity.
"""

from pathlib import Path

import numpy as np
import torch

SHAPES = [(7, 5), (13,), (3, 4, 2), (1,), (16, 9)]
CASES = [  # (name, dtype, max_norm or clip_value, scale of the gradients)
    ("f32_clip", np.float32, 1.0, 1.0),
    ("f64_clip", np.float64, 0.5, 3.0),
    ("f32_noclip", np.float32, 1e4, 1.0),
]
NORM_TYPES = [1.0, 2.0, 3.0, float("inf")]


def main() -> None:
    rng = np.random.default_rng(1234)
    out = {}
    for name, dtype, thr, scale in CASES:
        grads = [(rng.standard_normal(s) * scale).astype(dtype) for s in SHAPES]
        for i, g in enumerate(grads):
            out[f"{name}/in/{i}"] = g
        for p in NORM_TYPES:
            ts = [
                torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype))
                for g in grads
            ]
            for t, g in zip(ts, grads, strict=True):
                t.grad = torch.from_numpy(g.copy())
            total = torch.nn.utils.clip_grad_norm_(ts, thr, norm_type=p)
            out[f"{name}/norm{p}/total"] = np.float64(total.item())
            for i, t in enumerate(ts):
                out[f"{name}/norm{p}/out/{i}"] = t.grad.numpy()
        ts = [torch.from_numpy(g.copy()) for g in grads]
        params = []
        for t in ts:
            q = torch.nn.Parameter(torch.zeros_like(t))
            q.grad = t
            params.append(q)
        torch.nn.utils.clip_grad_value_(params, thr * 0.5)
        for i, q in enumerate(params):
            out[f"{name}/value/out/{i}"] = q.grad.numpy()
        out[f"{name}/threshold"] = np.float64(thr)
    path = Path(__file__).with_name("clip_golden.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {path} ({len(out)} arrays, torch {torch.__version__})")


if __name__ == "__main__":
    main()
