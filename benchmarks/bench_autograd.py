"""Autograd overhead and an MLP training step, side by side with PyTorch CPU.

Cases:
  per_op     forward+backward of y = tanh(a*b + a) on 4x4 float32 tensors (3 ops), µs per op
  mlp_step   one training step (forward, cross-entropy, backward, SGD step) of a
             256-512-512-10 ReLU MLP on a (64 x 256) float32 batch, µs per step

    python benchmarks/bench_autograd.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _harness import print_table, time_median, torch_or_none, write_results  # noqa: E402

import tinyclipnn as tc  # noqa: E402


def per_op_ours(number: int, repeats: int) -> float:
    rng = np.random.default_rng(0)
    a = tc.tensor(rng.random((4, 4), dtype=np.float32), requires_grad=True)
    b = tc.tensor(rng.random((4, 4), dtype=np.float32), requires_grad=True)
    ones = np.ones((4, 4), np.float32)

    def step() -> None:
        (a * b + a).tanh().backward(ones)

    return time_median(step, repeats, number, warmup=number // 10 + 1) / 3


def per_op_torch(torch, number: int, repeats: int) -> float:
    a = torch.rand(4, 4, requires_grad=True)
    b = torch.rand(4, 4, requires_grad=True)
    ones = torch.ones(4, 4)

    def step() -> None:
        torch.tanh(a * b + a).backward(ones)

    return time_median(step, repeats, number, warmup=number // 10 + 1) / 3


SIZES = (256, 512, 512, 10)


def mlp_ours(number: int, repeats: int) -> float:
    tc.manual_seed(0)
    layers = []
    for i in range(len(SIZES) - 1):
        layers += [tc.nn.Linear(SIZES[i], SIZES[i + 1]), tc.nn.ReLU()]
    model = tc.nn.Sequential(*layers[:-1])
    opt = tc.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = tc.tensor(rng.standard_normal((64, SIZES[0]), dtype=np.float32))
    y = rng.integers(0, SIZES[-1], 64)

    def step() -> None:
        loss = tc.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return time_median(step, repeats, number, warmup=3)


def mlp_torch(torch, number: int, repeats: int) -> float:
    torch.manual_seed(0)
    layers = []
    for i in range(len(SIZES) - 1):
        layers += [torch.nn.Linear(SIZES[i], SIZES[i + 1]), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(64, SIZES[0])
    y = torch.randint(0, SIZES[-1], (64,))

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return time_median(step, repeats, number, warmup=3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    args = ap.parse_args()
    n_op, n_mlp, reps = (200, 5, 3) if args.quick else (5000, 50, 7)
    torch = torch_or_none()
    if torch is not None:
        torch.set_num_threads(os.cpu_count() or 1)
    rows = []
    ours = per_op_ours(n_op, reps)
    theirs = per_op_torch(torch, n_op, reps) if torch else None
    rows.append({"case": "per-op overhead (4x4, fwd+bwd)", "unit": "µs/op", "tinyclipnn": ours * 1e6,
                 "torch": theirs * 1e6 if theirs else None,
                 "torch / ours": theirs / ours if theirs else None})
    ours = mlp_ours(n_mlp, reps)
    theirs = mlp_torch(torch, n_mlp, reps) if torch else None
    rows.append({"case": "MLP step 256-512-512-10, batch 64", "unit": "µs/step",
                 "tinyclipnn": ours * 1e6, "torch": theirs * 1e6 if theirs else None,
                 "torch / ours": theirs / ours if theirs else None})
    print_table(rows, ["case", "unit", "tinyclipnn", "torch", "torch / ours"])
    write_results("bench_autograd", rows, {"torch_threads": torch.get_num_threads() if torch else None})


if __name__ == "__main__":
    main()
