"""One run of Pascanu, Mikolov & Bengio (2013)'s pathological-task experiments, as their code
(``trainingRNNs``, ``RNN.py``) runs it, written as a resumable sweep cell.

Paper settings (`PAPER`): a 50-unit tanh RNN, ``smart_tanh`` initialisation (input, output and
recurrent weights ~ N(0, 0.01), each row of W_hh keeping 15 random non-zeros, W_hh rescaled to
spectral radius 0.95, biases 0), batch 20, plain SGD at lr 0.01, gradient-norm cutoff 1.0
(rescale), Ω weight alpha = 2.0, and their non-finite fallback when clipping: a gradient norm
that is nan/inf or above 1e10 replaces the step by ``0.02 * W_hh`` on W_hh and nothing elsewhere.
Loss: cross-entropy of the softmax at the last step (every step for memorization), squared error
of a linear output for addition / multiplication. Solved: < 1 % wrong of 10,000 fresh sequences.

Methods: ``sgd`` (no clipping, no fallback: a non-finite loss ends the run as diverged),
``sgd-c`` (clipping), ``sgd-cr`` (clipping + Ω), ``sgd-cr-bptt`` (``sgd-cr`` plus per-step
error clipping inside BPTT, ``bptt_clip`` by value; not in the paper).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

PAPER: dict[str, Any] = {
    "hidden": 50, "batch": 20, "lr": 0.01, "cutoff": 1.0, "alpha": 2.0, "sparsity": 15,
    "rho": 0.95, "init_scale": 0.01, "fallback_norm": 1e10, "fallback_scale": 0.02,
    "check_every": 20, "n_check": 10_000, "n_eval": 10_000, "max_steps": 5_000_000,
    "bptt_clip": 0.1,
}
METHODS: dict[str, dict[str, Any]] = {
    "sgd": {"clip": False, "omega": False, "bptt": False},
    "sgd-c": {"clip": True, "omega": False, "bptt": False},
    "sgd-cr": {"clip": True, "omega": True, "bptt": False},
    "sgd-cr-bptt": {"clip": True, "omega": True, "bptt": True},
}


def smart_tanh_(model: Any, rng: np.random.Generator, s: dict) -> None:
    """Their ``smart_tanh`` initialisation, in PyTorch's layout (W_hh ours = theirs transposed)."""
    rnn, head = model.rnn, model.head
    H = rnn.hidden_size
    w = rng.normal(0.0, s["init_scale"], (H, H))
    for row in range(H):  # keep `sparsity` random entries per row (theirs: per row of W^T)
        w[row, rng.permutation(H)[s["sparsity"]:]] = 0.0
    w *= s["rho"] / np.max(np.abs(np.linalg.eigvals(w)))
    rnn.weight_hh_l0.data[...] = w.T
    rnn.weight_ih_l0.data[...] = rng.normal(0.0, s["init_scale"], rnn.weight_ih_l0.shape)
    head.weight.data[...] = rng.normal(0.0, s["init_scale"], head.weight.shape)
    for b in (rnn.bias_ih_l0, rnn.bias_hh_l0, head.bias):
        b.data[...] = 0.0
    rnn.bias_ih_l0.requires_grad = False  # theirs has one hidden bias; ours has two: train one


def build_model(task: Any, method: str, s: dict) -> Any:
    from .. import nn

    m = METHODS[method]

    class PathologicalRNN(nn.Module):
        """tanh RNN + linear read-out at the last step (every step for ``all_class`` tasks)."""

        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.RNN(task.n_in, s["hidden"], vanishing_penalty=s["alpha"] if m["omega"]
                              else 0.0, bptt_clip=s["bptt_clip"] if m["bptt"] else None)
            self.head = nn.Linear(s["hidden"], task.n_out)
            self.all_steps = task.kind == "all_class"

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.head(out if self.all_steps else out[-1])

    return PathologicalRNN()


def _loss(task: Any, out: Any, y: np.ndarray) -> Any:
    from ..nn import functional as F

    if task.kind == "last_real":
        return F.mse_loss(out, _tensor(y))
    if task.kind == "all_class":
        T, B, C = out.shape
        return F.cross_entropy(out.reshape(T * B, C), y.reshape(-1))
    return F.cross_entropy(out, y)


def _tensor(a: np.ndarray) -> Any:
    from .. import tensor

    return tensor(a)


def _apply_update(params: list, model: Any, s: dict, clip: bool) -> tuple[float, bool]:
    """Clip (rescale at ``cutoff``, their fallback on a non-finite / huge norm) and take the SGD
    step in place. Returns (gradient norm before clipping, whether the fallback fired)."""
    from ..clip import clip_grads_with_norm_, get_total_norm

    with np.errstate(over="ignore", invalid="ignore"):
        norm = float(get_total_norm(params))
    fallback = clip and not (math.isfinite(norm) and norm <= s["fallback_norm"])
    if fallback:
        w = model.rnn.weight_hh_l0
        for p in params:
            p.grad[...] = 0.0
        w.grad[...] = s["fallback_scale"] * w.data
    elif clip and norm > s["cutoff"]:
        clip_grads_with_norm_(params, s["cutoff"], norm)
    for p in params:
        p.data -= s["lr"] * p.grad
    return norm, fallback


def _error(task: Any, model: Any, length: int, rng: np.random.Generator, n: int) -> float:
    from .. import no_grad
    from ..data import error_rate

    with no_grad(), np.errstate(over="ignore", invalid="ignore"):
        return error_rate(task, lambda x: model(_tensor(x)).data, length, rng, n_sequences=n,
                          batch_size=min(n, 1000))


def train_cell(config: dict, ckpt: Any) -> dict:
    """Sweep cell: train ``config`` = {task, length, method, seed, max_steps, ...overrides of
    PAPER} until solved, diverged or ``max_steps``; resumes from ``ckpt``. Returns the result.
    Optional ``max_length``: each batch (and each test) at a length drawn from
    [length, max_length), as the authors' code does; without it every sequence has ``length``."""
    from .. import manual_seed
    from ..data import get_task, is_solved

    s = {**PAPER, **{k: v for k, v in config.items() if k in PAPER}}
    task, T, method = get_task(config["task"]), int(config["length"]), config["method"]
    t_hi = int(config.get("max_length") or T)  # their length sampling: U{T, ..., max_length-1}

    def length(rng: np.random.Generator) -> int:
        return T + int(rng.integers(t_hi - T)) if t_hi > T else T

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    manual_seed(config["seed"])
    model = build_model(task, method, s)
    smart_tanh_(model, np.random.default_rng([config["seed"], 1]), s)
    params = [p for p in model.parameters() if p.requires_grad]
    state = ckpt.load()
    if state is None:
        state = {"step": 0, "data_rng": np.random.default_rng([config["seed"], 2]),
                 "eval_rng": np.random.default_rng([config["seed"], 3]), "history": [],
                 "best": 1.0, "fallbacks": 0, "seconds": 0.0, "done": None}
    else:
        model.load_state_dict(state["model"])
    resumed_from, t0 = state["step"], time.perf_counter()
    max_steps = int(s["max_steps"])
    while state["done"] is None and state["step"] < max_steps:
        x, y = task(s["batch"], length(state["data_rng"]), state["data_rng"])
        with np.errstate(over="ignore", invalid="ignore"):
            loss = _loss(task, model(_tensor(x)), y)
            for p in params:
                p.grad = None
            loss.backward()
        lv = loss.item()
        if not math.isfinite(lv):  # plain SGD blew up (clipped runs never get here)
            state["done"] = "diverged"
            break
        _, fell = _apply_update(params, model, s, METHODS[method]["clip"])
        state["fallbacks"] += fell
        state["step"] += 1
        k = state["step"]
        if k % s["check_every"] == 0:
            T_eval = length(state["eval_rng"])
            err = _error(task, model, T_eval, state["eval_rng"], s["n_check"])
            if is_solved(err) and s["n_check"] < s["n_eval"]:  # confirm on the full test set
                err = _error(task, model, T_eval, state["eval_rng"], s["n_eval"])
            state["history"].append((k, err, lv))
            state["best"] = min(state["best"], err)
            if is_solved(err):
                state["done"] = "solved"
        if ckpt.due(k) or state["done"] is not None:
            state["model"] = model.state_dict()
            state["seconds"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            ckpt.save(state)
        ckpt.progress(k, max_steps)
    state["seconds"] += time.perf_counter() - t0
    hist = state["history"]
    return {"solved": state["done"] == "solved", "diverged": state["done"] == "diverged",
            "steps": state["step"], "best_error": state["best"],
            "final_error": hist[-1][1] if hist else math.nan,
            "final_loss": hist[-1][2] if hist else math.nan, "fallbacks": state["fallbacks"],
            "omega": model.rnn.omega.get("l0", math.nan), "seconds": state["seconds"],
            "resumed_from": resumed_from, "history": hist}
