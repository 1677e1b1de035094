"""The whole training steps `bench_models.py` times, for tinyclipnn and for PyTorch.

A step is what a user's loop does: take a batch, forward, loss, ``zero_grad``, backward,
global-norm clip at 1.0, optimizer step. Both libraries build the same model (same sizes, same
initialisation rules, same optimizer settings) from the same numpy data; each builder returns
``step()`` (one training step) and a short description.

Models (float32):

* ``charlm_lstm`` / ``charlm_gru``: Embedding(96, 32) -> LSTM / GRU(32, 128, batch_first=True)
  -> Linear(128, 96); batch 32 windows of 64 characters from a fixed random corpus; cross
  entropy over all steps; SGD lr 0.5.
* ``mlp``: 2-64-64-3 with ReLU, the full batch of 300 points (3 spirals); SGD lr 0.1,
  momentum 0.9.
* ``pascanu``: RNN(6, 50) tanh, seq 100, batch 20, Linear(50, 4) on the last step, cross
  entropy; plain SGD lr 0.01 (Pascanu et al.'s size); ``pascanu_omega`` adds
  ``vanishing_penalty=2.0`` (ours only: PyTorch has no such regularizer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

VOCAB, EMB, HIDDEN, BATCH, SEQ = 96, 32, 128, 32, 64
CORPUS = 20_000
MODELS = ["charlm_lstm", "charlm_gru", "mlp", "pascanu", "pascanu_omega"]
TORCH_MODELS = ["charlm_lstm", "charlm_gru", "mlp", "pascanu"]  # no Ω in PyTorch


def _corpus() -> np.ndarray:
    return np.random.default_rng(0).integers(0, VOCAB, CORPUS).astype(np.int64)


def _spirals(n: int = 300, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    per = n // classes
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.0, 1.0, per)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, per) + rng.normal(0, 0.2, per)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(per, c))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)


def _pascanu_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 20, 6)).astype(np.float32)
    return x, rng.integers(0, 4, 20).astype(np.int64)


class _Windows:
    """Random (B, T) input / target windows from the corpus, the same sequence in every process."""

    def __init__(self) -> None:
        self.text = _corpus()
        self.rng = np.random.default_rng(1)
        self.offsets = np.arange(SEQ)

    def __call__(self) -> tuple[np.ndarray, np.ndarray]:
        starts = self.rng.integers(0, CORPUS - SEQ - 1, BATCH)
        idx = starts[:, None] + self.offsets
        return self.text[idx], self.text[idx + 1]


# ------------------------------------------------------------------------------------ ours
def ours(name: str) -> Callable[[], Any]:
    """One training step of model ``name`` with tinyclipnn."""
    import tinyclipnn as tc
    from tinyclipnn import nn
    from tinyclipnn.nn import functional as F

    tc.manual_seed(0)
    if name.startswith("charlm"):
        rnn_cls = nn.LSTM if name == "charlm_lstm" else nn.GRU

        class CharLM(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.embed = nn.Embedding(VOCAB, EMB)
                self.rnn = rnn_cls(EMB, HIDDEN, batch_first=True)
                self.head = nn.Linear(HIDDEN, VOCAB)

            def forward(self, ids):
                out, _ = self.rnn(self.embed(ids))
                return self.head(out)

        model, batches, lr, momentum = CharLM(), _Windows(), 0.5, 0.0

        def loss_of(batch):
            x, y = batch
            return F.cross_entropy(model(x).reshape(-1, VOCAB), y.reshape(-1))
    elif name == "mlp":
        model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                              nn.Linear(64, 3))
        xs, ys = _spirals()
        x = tc.tensor(xs)
        lr, momentum = 0.1, 0.9

        def batches():
            return x, ys

        def loss_of(batch):
            return F.cross_entropy(model(batch[0]), batch[1])
    else:
        omega = 2.0 if name == "pascanu_omega" else 0.0

        class Pascanu(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.rnn = nn.RNN(6, 50, vanishing_penalty=omega)
                self.head = nn.Linear(50, 4)

            def forward(self, x):
                out, _ = self.rnn(x)
                return self.head(out[-1])

        model, lr, momentum = Pascanu(), 0.01, 0.0
        xs, ys = _pascanu_data()
        x = tc.tensor(xs)

        def batches():
            return x, ys

        def loss_of(batch):
            return F.cross_entropy(model(batch[0]), batch[1])

    params = list(model.parameters())
    opt = tc.optim.SGD(params, lr=lr, momentum=momentum)
    clip = nn.utils.clip_grad_norm_

    def step() -> None:
        batch = batches()
        loss = loss_of(batch)
        opt.zero_grad()
        loss.backward()
        clip(params, 1.0)
        opt.step()

    return step


# ------------------------------------------------------------------------------------ torch
def theirs(name: str) -> Callable[[], Any]:
    """One training step of model ``name`` with PyTorch."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    torch.manual_seed(0)
    if name.startswith("charlm"):
        rnn_cls = nn.LSTM if name == "charlm_lstm" else nn.GRU

        class CharLM(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.embed = nn.Embedding(VOCAB, EMB)
                self.rnn = rnn_cls(EMB, HIDDEN, batch_first=True)
                self.head = nn.Linear(HIDDEN, VOCAB)

            def forward(self, ids):
                out, _ = self.rnn(self.embed(ids))
                return self.head(out)

        model, windows, lr, momentum = CharLM(), _Windows(), 0.5, 0.0

        def batches():
            x, y = windows()
            return torch.from_numpy(x), torch.from_numpy(y)

        def loss_of(batch):
            x, y = batch
            return F.cross_entropy(model(x).reshape(-1, VOCAB), y.reshape(-1))
    elif name == "mlp":
        model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                              nn.Linear(64, 3))
        xs, ys = _spirals()
        x, y = torch.from_numpy(xs), torch.from_numpy(ys)
        lr, momentum = 0.1, 0.9

        def batches():
            return x, y

        def loss_of(batch):
            return F.cross_entropy(model(batch[0]), batch[1])
    else:
        class Pascanu(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.rnn = nn.RNN(6, 50)
                self.head = nn.Linear(50, 4)

            def forward(self, x):
                out, _ = self.rnn(x)
                return self.head(out[-1])

        model, lr, momentum = Pascanu(), 0.01, 0.0
        xs, ys = _pascanu_data()
        x, y = torch.from_numpy(xs), torch.from_numpy(ys)

        def batches():
            return x, y

        def loss_of(batch):
            return F.cross_entropy(model(batch[0]), batch[1])

    params = list(model.parameters())
    opt = torch.optim.SGD(params, lr=lr, momentum=momentum)
    clip = nn.utils.clip_grad_norm_

    def step() -> None:
        batch = batches()
        loss = loss_of(batch)
        opt.zero_grad()
        loss.backward()
        clip(params, 1.0)
        opt.step()

    return step
