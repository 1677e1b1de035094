"""One run of Pascanu, Mikolov & Bengio (2013)'s pathological-task experiments, as their code
(``trainingRNNs``, ``RNN.py``) runs it, written as a resumable sweep cell.

Settings (`PAPER`), from the authors' code unless marked: a 50-unit RNN, batch 20, plain SGD at
lr 0.01, gradient-norm cutoff 1.0 (rescale), Ω weight ``alpha`` = 4 (the paper's text for
Fig. 7; their code's default is 2, `CODE_ALPHA`), and their non-finite fallback when clipping: a
gradient norm that is nan/inf or above 1e10 replaces the step by ``0.02 * W_hh`` on W_hh and
nothing elsewhere. Loss: cross-entropy of the softmax at the last step (every step for
memorization), squared error of a linear output for addition / multiplication.

Initialisations (`INITS`, their ``state['init']``; `init_weights_`): ``sigmoid`` (logistic units,
weights ~ N(0, 0.01)), ``basic-tanh`` (tanh, N(0, 0.1)), ``smart-tanh`` (tanh, N(0, 0.01), 15
random non-zeros kept per row of W_hh, W_hh rescaled to spectral radius 0.95); all biases 0.

Success, two rules, both recorded with the first update at which they held: the paper's (< 1 %
of 10,000 fresh sequences wrong) and their code's (0 wrong of 10,000: ``error < .0001`` percent,
the only rule on which it stops). A run stops at the code's rule (as theirs), at divergence or at
``max_steps``. Cadence: every ``check_every`` updates a screen on ``n_check`` fresh sequences; a
screen that meets a rule not yet met is confirmed on ``n_eval`` fresh sequences, and only the
confirmation counts (their code tests 10,000 sequences every 20 updates: ``check_every=20,
n_check=10_000``). Mixed-length runs (``max_length``: each batch at a length drawn from
[length, max_length), as their code) are tested at each of ``test_lengths`` (n_check / n_eval
sequences at each) and meet a rule when every length does.

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
    "hidden": 50, "batch": 20, "lr": 0.01, "cutoff": 1.0, "alpha": 4.0, "init": "smart-tanh",
    "sparsity": 15, "rho": 0.95, "fallback_norm": 1e10, "fallback_scale": 0.02,
    "check_every": 20, "n_check": 10_000, "n_eval": 10_000, "max_steps": 5_000_000,
    "bptt_clip": 0.1, "test_lengths": (50, 100, 150, 200),
}
CODE_ALPHA = 2.0  # RNN.py, __main__: state['alpha'] = 2.
# the two success rules on a test's error rate: the paper's (< 1 %) and their code's
# (RNN.py: `if error < .0001 and numpy.isfinite(valid_cost)`, error in percent: 0 of 10,000)
RULES: dict[str, Any] = {"paper": lambda e: e < 0.01, "code": lambda e: e == 0.0}
METHODS: dict[str, dict[str, Any]] = {
    "sgd": {"clip": False, "omega": False, "bptt": False},
    "sgd-c": {"clip": True, "omega": False, "bptt": False},
    "sgd-cr": {"clip": True, "omega": True, "bptt": False},
    "sgd-cr-bptt": {"clip": True, "omega": True, "bptt": True},
}
# name -> (units, std of every weight); RNN.py, jobman(), the `state['init']` branches
# 'sigmoid' (lines 95-104), 'basic_tanh' (115-124), 'smart_tanh' (125-140) at commit 3f5df3f
INITS: dict[str, tuple[str, float]] = {
    "sigmoid": ("sigmoid", 0.01), "basic-tanh": ("tanh", 0.1), "smart-tanh": ("tanh", 0.01),
}


def check_init(init: Any) -> str:
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)} (their code's sigmoid, "
                         f"basic_tanh, smart_tanh), got {init!r}")
    return init


def init_weights_(model: Any, init: str, seed: int, s: dict) -> None:
    """Their initialisation ``init``, drawn as their code draws it: from
    ``numpy.random.RandomState(seed)``, in float32, in their order W_uh (n_in, H), W_hh (H, H)
    (``smart-tanh``: then per row a permutation whose entries past the first ``sparsity`` are
    zeroed, and W_hh scaled to spectral radius ``rho``), W_hy (H, n_out), every one ~ N(0, std);
    biases 0. Theirs computes ``h_t = act(h_{t-1} W_hh + u_t W_uh + b_hh)``, ``y = h W_hy +
    b_hy``: ours are their matrices transposed, and of our two hidden biases only ``bias_hh``
    is trained (theirs has one)."""
    rnn, head = model.rnn, model.head
    _, std = INITS[check_init(init)]
    H, n_in, n_out = rnn.hidden_size, rnn.input_size, head.out_features
    rng = np.random.RandomState(seed)
    w_uh = np.asarray(rng.normal(size=(n_in, H), scale=std, loc=0.0), np.float32)
    w_hh = np.asarray(rng.normal(size=(H, H), scale=std, loc=0.0), np.float32)
    if init == "smart-tanh":
        for row in range(H):
            w_hh[row][rng.permutation(H)[s["sparsity"]:]] = 0.0
        radius = np.max(np.abs(np.linalg.eigvals(w_hh)))
        w_hh = np.float32(s["rho"] * w_hh / radius)
    w_hy = np.asarray(rng.normal(size=(H, n_out), loc=0.0, scale=std), np.float32)
    rnn.weight_ih_l0.data[...] = w_uh.T
    rnn.weight_hh_l0.data[...] = w_hh.T
    head.weight.data[...] = w_hy.T
    for b in (rnn.bias_ih_l0, rnn.bias_hh_l0, head.bias):
        b.data[...] = 0.0
    rnn.bias_ih_l0.requires_grad = False


def build_model(task: Any, method: str, s: dict) -> Any:
    from .. import nn

    m = METHODS[method]
    units = INITS[check_init(s["init"])][0]

    class PathologicalRNN(nn.Module):
        """RNN + linear read-out at the last step (every step for ``all_class`` tasks)."""

        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.RNN(task.n_in, s["hidden"], nonlinearity=units,
                              vanishing_penalty=s["alpha"] if m["omega"] else 0.0,
                              bptt_clip=s["bptt_clip"] if m["bptt"] else None)
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


def _errors(task: Any, model: Any, lengths: list[int], rng: np.random.Generator,
            n: int) -> dict[int, float]:
    """Error rate on ``n`` fresh sequences at each length."""
    return {T: _error(task, model, T, rng, n) for T in lengths}


def _meets(errors: dict[int, float], rule: str) -> bool:
    """Whether the error rate at every tested length meets ``rule`` ("paper" / "code")."""
    return all(RULES[rule](e) for e in errors.values())


def cadence(config: dict) -> str:
    """How a run is tested, in words (reported with every result)."""
    s = {**PAPER, **{k: v for k, v in config.items() if k in PAPER}}
    lengths = _test_lengths(config, s)
    per = f" at each of T = {', '.join(map(str, lengths))}" if len(lengths) > 1 else ""
    screen = max(1, int(s["n_check"]) // len(lengths))
    text = f"every {s['check_every']} updates: {screen} fresh sequences{per}"
    if screen < int(s["n_eval"]):
        text += f"; a rule met there is confirmed on {s['n_eval']} fresh sequences{per}"
    return text


def _test_lengths(config: dict, s: dict) -> list[int]:
    if config.get("max_length"):
        return [int(T) for T in s["test_lengths"]]
    return [int(config["length"])]


def _test(task: Any, model: Any, state: dict, lengths: list[int], s: dict, k: int) -> float:
    """The test at update ``k``: screen, confirm a rule that the screen meets and that is not yet
    met, record the first update of each rule. Returns the error it reports (the worst length)."""
    rng, screen = state["eval_rng"], max(1, int(s["n_check"]) // len(lengths))
    errs = _errors(task, model, lengths, rng, screen)
    new = [r for r in RULES if state[r + "_at"] is None and _meets(errs, r)]
    if new and screen < int(s["n_eval"]):
        errs = _errors(task, model, lengths, rng, int(s["n_eval"]))
    for r in new:
        if _meets(errs, r):
            state[r + "_at"], state[r + "_errors"] = k, errs
    return max(errs.values())


def train_cell(config: dict, ckpt: Any) -> dict:
    """Sweep cell: train ``config`` = {task, length, method, seed, max_steps, ...overrides of
    PAPER (init, alpha, check_every, n_check, n_eval, test_lengths, ...)} until their code's
    rule is met, the loss diverges, or ``max_steps``; resumes from ``ckpt``. Optional
    ``max_length``: each batch at a length drawn from [length, max_length), as the authors'
    code does, tested at ``test_lengths``; without it every sequence has ``length``."""
    from .. import manual_seed
    from ..data import get_task

    s = {**PAPER, **{k: v for k, v in config.items() if k in PAPER}}
    task, T, method = get_task(config["task"]), int(config["length"]), config["method"]
    t_hi = int(config.get("max_length") or T)  # their length sampling: U{T, ..., max_length-1}

    def length(rng: np.random.Generator) -> int:
        return T + int(rng.integers(t_hi - T)) if t_hi > T else T

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    lengths = _test_lengths(config, s)
    manual_seed(config["seed"])
    model = build_model(task, method, s)
    init_weights_(model, s["init"], int(config["seed"]), s)
    params = [p for p in model.parameters() if p.requires_grad]
    state = ckpt.load()
    if state is None:
        state = {"step": 0, "data_rng": np.random.default_rng([config["seed"], 2]),
                 "eval_rng": np.random.default_rng([config["seed"], 3]), "history": [],
                 "best": 1.0, "fallbacks": 0, "above_cutoff": 0, "max_norm": 0.0, "seconds": 0.0,
                 "done": None,
                 "paper_at": None, "paper_errors": None, "code_at": None, "code_errors": None}
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
        norm, fell = _apply_update(params, model, s, METHODS[method]["clip"])
        state["fallbacks"] += fell
        state["above_cutoff"] += not norm <= s["cutoff"]  # (nan too) where clipping acts
        state["max_norm"] = max(state["max_norm"], norm) if not math.isnan(norm) else math.inf
        state["step"] += 1
        k = state["step"]
        if k % s["check_every"] == 0:
            err = _test(task, model, state, lengths, s, k)
            state["history"].append((k, err, lv))
            state["best"] = min(state["best"], err)
            if state["code_at"] is not None:
                state["done"] = "code rule"  # their code's stop: 0 errors of 10,000
        if ckpt.due(k) or state["done"] is not None:
            state["model"] = model.state_dict()
            state["seconds"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            ckpt.save(state)
        ckpt.progress(k, max_steps)
    final = (state["code_errors"] if state["done"] == "code rule"
             else _errors(task, model, lengths, state["eval_rng"], int(s["n_eval"])))
    state["seconds"] += time.perf_counter() - t0
    return _result(state, model, final, lengths, config, resumed_from)


def _result(state: dict, model: Any, final: dict[int, float], lengths: list[int], config: dict,
            resumed_from: int) -> dict:
    hist = state["history"]
    w = model.rnn.weight_hh_l0.data.astype(np.float64)
    stop = state["done"] or "cap"
    with np.errstate(all="ignore"):
        radius = float(np.max(np.abs(np.linalg.eigvals(w)))) if np.isfinite(w).all() else math.nan
    out = {"solved": state["paper_at"] is not None,  # the paper's rule (kept for old readers)
           "solved_paper": state["paper_at"] is not None, "solved_paper_at": state["paper_at"],
           "solved_code": state["code_at"] is not None, "solved_code_at": state["code_at"],
           "stop": stop, "diverged": stop == "diverged", "capped": stop == "cap",
           "steps": state["step"], "best_error": state["best"],
           "final_error": max(final.values()) if final else math.nan,
           "final_loss": hist[-1][2] if hist else math.nan, "fallbacks": state["fallbacks"],
           "updates_above_cutoff": state["above_cutoff"], "max_grad_norm": state["max_norm"],
           "omega": model.rnn.omega.get("l0", math.nan), "rho": radius,
           "seconds": state["seconds"], "resumed_from": resumed_from, "test": cadence(config),
           "history": thin(hist),
           "final_errors": {str(T): e for T, e in final.items()},
           "paper_errors": _strkeys(state["paper_errors"]),
           "code_errors": _strkeys(state["code_errors"])}
    if len(lengths) > 1:  # mixed-length runs: one column per test length
        out.update({f"final_error_T{T}": e for T, e in final.items()})
    return out


HISTORY_POINTS = 200  # a result keeps at most ~this many (update, test error, loss) triples


def thin(history: list, points: int = HISTORY_POINTS) -> list:
    """Every k-th test of ``history`` (k chosen so at most ~``points`` remain) and the last one:
    a 200k-update run tested every 200 updates keeps one point per 1,000 updates, so the
    sweep's results.json stays small."""
    step = max(1, -(-len(history) // points))
    kept = list(history[::step])
    if history and kept[-1] != history[-1]:
        kept.append(history[-1])
    return kept


def _strkeys(d: dict | None) -> dict | None:
    return None if d is None else {str(k): v for k, v in d.items()}
