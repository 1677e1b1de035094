"""Local smoothness along the training trajectory (Zhang et al. 2020, Fig. 1): at each step,
``L_hat = ||grad f(x_mid) - grad f(x_prev)|| / ||x_mid - x_prev||`` with ``x_mid`` halfway to
the next iterate (same mini-batch), recorded against ``||grad f(x_prev)||``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import manual_seed, optim
from ..data import CharVocab, load_text, random_windows
from .charlm import CharLM
from .clipspec import parse_clip
from .loop import run_loop
from .metrics import MetricsRecorder


def _flat_grads(params: list[Any]) -> np.ndarray:
    return np.concatenate([np.asarray(p.grad, np.float64).ravel() for p in params])


def measure_charlm_smoothness(clip: str, steps: int, seed: int, rec: MetricsRecorder,
                              run: str, quiet: bool, hidden: int = 64, seq_len: int = 32,
                              batch_size: int = 16, lr: float = 1.0,
                              max_chars: int = 200_000) -> dict[str, np.ndarray]:
    """Train a char LSTM with SGD (+ ``clip``) and return per-step gradient norms and local
    smoothness estimates."""
    text = load_text(None, max_chars)
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    manual_seed(seed)
    model = CharLM(len(vocab), hidden)
    params = list(model.parameters())
    opt = optim.SGD(params, lr=lr, clipper=parse_clip(clip))
    rng = np.random.default_rng(seed)
    norms, smooth = [], []

    def grads_at(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        opt.zero_grad()
        loss = model.loss(x, y)
        loss.backward()
        return loss.item(), _flat_grads(params)

    def step(k: int) -> dict:
        x, y = random_windows(ids, batch_size, seq_len, rng)
        loss, g0 = grads_at(x, y)
        prev = [p.data.copy() for p in params]
        opt.step()
        stats = opt.last_clip
        for p, a in zip(params, prev, strict=True):
            p.data[...] = (a + p.data) / 2  # x_mid
        dist = math.sqrt(sum(float(np.sum((p.data.astype(np.float64) - a) ** 2))
                             for p, a in zip(params, prev, strict=True)))
        _, g_mid = grads_at(x, y)
        for p, a in zip(params, prev, strict=True):
            p.data[...] = 2 * p.data - a  # back to x_new
        l_hat = float(np.linalg.norm(g_mid - g0) / dist) if dist > 0 else math.nan
        norms.append(float(np.linalg.norm(g0)))
        smooth.append(l_hat)
        return {"loss": loss, **stats.as_dict(), "smoothness": l_hat,
                "stop": not math.isfinite(loss)}

    run_loop(step, steps, rec, run=run, quiet=quiet)
    return {"grad_norm": np.array(norms), "smoothness": np.array(smooth)}
