"""Rank ``size - 1`` raises in the middle of training while the others wait in the gradient
all-reduce: the job must end promptly with a non-zero exit (DataParallel installs the
abort-on-exception hook). ``mode``: "excepthook" (uncaught) or "context" (abort_on_error,
for callers that would catch the exception)."""

import sys

import numpy as np
from mpi4py import MPI

import tinyclipnn as tc
from tinyclipnn import nn, optim
from tinyclipnn.distributed import DataParallel, abort_on_error

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
mode = sys.argv[1]
tc.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
opt = DataParallel(model, bucket_mb=None).attach(optim.SGD(model.parameters(), lr=0.1))


def train():
    for step in range(1000):
        if rank == size - 1 and step == 3:
            raise RuntimeError(f"injected failure on rank {rank} at step {step}")
        loss = (model(tc.Tensor(np.ones((2, 4), np.float32))) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


if mode == "context":
    try:
        with abort_on_error():
            train()
    except RuntimeError:
        sys.exit(0)  # a caller that swallows errors: without the abort the others would hang
else:
    train()
print(f"rank {rank} finished: the failure did not stop the job", flush=True)
