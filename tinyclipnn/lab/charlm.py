"""Character-level LSTM language model: training (``tinyclipnn train-charlm``), checkpoints and
sampling (``tinyclipnn sample``).  Also used by the ``charlm`` demo."""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn
from ..autograd import Tensor
from ..data import CharVocab, load_text, random_windows, train_val_split
from .clipspec import parse_clip
from .loop import LoopResult, reset_stop, run_loop
from .metrics import MetricsRecorder
from .plotting import plot_traces

__all__ = ["CharLMConfig", "CharLM", "train_charlm", "sample_checkpoint", "load_checkpoint"]

LN2 = math.log(2.0)


@dataclass
class CharLMConfig:
    """Everything ``train-charlm`` needs; stored in the checkpoint."""

    text: str | None = None
    clip: str = "norm:1.0"
    steps: int = 500
    hidden: int = 128
    layers: int = 1
    seq_len: int = 64
    batch_size: int = 32
    lr: float = 2e-3
    optimizer: str = "adam"
    seed: int = 0
    max_chars: int = 1_000_000
    eval_every: int = 50
    eval_windows: int = 64


class CharLM(nn.Module):
    """Embedding -> LSTM -> Linear over the vocabulary."""

    def __init__(self, vocab_size: int, hidden: int, layers: int = 1) -> None:
        super().__init__()
        emb = min(64, hidden)
        self.embed = nn.Embedding(vocab_size, emb)
        self.lstm = nn.LSTM(emb, hidden, num_layers=layers)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, ids: np.ndarray, state: Any = None) -> tuple[Tensor, Any]:
        """Logits (T, B, V) for ids (T, B), and the LSTM state to continue from."""
        out, state = self.lstm(self.embed(ids), state)
        return self.head(out), state


def _loss(model: CharLM, x: np.ndarray, y: np.ndarray) -> Tensor:
    from ..nn import functional as F

    logits, _ = model(x)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def _build_optimizer(cfg: CharLMConfig, model: CharLM, clipper: Any):
    from .. import optim

    if cfg.optimizer == "adam":
        return optim.Adam(model.parameters(), lr=cfg.lr, clipper=clipper)
    if cfg.optimizer == "sgd":
        return optim.SGD(model.parameters(), lr=cfg.lr, clipper=clipper)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', got {cfg.optimizer!r}")


def save_checkpoint(path: Path, model: CharLM, vocab: CharVocab, cfg: CharLMConfig,
                    step: int) -> None:
    """Write model weights, vocabulary and config with ``tinyclipnn.save`` (atomic)."""
    from .. import save

    conf = {k: ("" if v is None else v) for k, v in asdict(cfg).items()}
    save({"model": model.state_dict(), "vocab": vocab.to_array(), "config": conf,
          "step": step}, path)


def train_charlm(cfg: CharLMConfig, out: str | Path = "runs/charlm", quiet: bool = False,
                 recorder: MetricsRecorder | None = None, run: str | None = None,
                 plot: bool = True) -> dict[str, Any]:
    """Train a char LSTM; writes ``model.npz``, ``metrics.csv/json`` and a plot into ``out``.
    Ctrl-C stops training cleanly and the checkpoint of the steps done is still written."""
    from .. import manual_seed, no_grad

    if recorder is None:  # a command of its own (not part of a demo): forget older Ctrl-C
        reset_stop()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clipper = parse_clip(cfg.clip)
    text = load_text(cfg.text, cfg.max_chars)
    vocab = CharVocab.from_text(text)
    train_ids, val_ids = train_val_split(vocab.encode(text), 0.1)
    manual_seed(cfg.seed)
    model = CharLM(len(vocab), cfg.hidden, cfg.layers)
    opt = _build_optimizer(cfg, model, clipper)
    rng = np.random.default_rng(cfg.seed)
    val_x, val_y = random_windows(val_ids, cfg.eval_windows, cfg.seq_len,
                                  np.random.default_rng(cfg.seed + 1))
    rec = recorder if recorder is not None else MetricsRecorder({"command": "train-charlm",
                                                                 **asdict(cfg)})
    label = run or f"clip={clipper.label}"

    def val_bpc() -> float:
        with no_grad():
            return _loss(model, val_x, val_y).item() / LN2

    def step(k: int) -> dict:
        x, y = random_windows(train_ids, cfg.batch_size, cfg.seq_len, rng)
        loss = _loss(model, x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        row = {"loss": loss.item(), **opt.last_clip.as_dict(), "bpc": loss.item() / LN2}
        if (k + 1) % cfg.eval_every == 0 or k + 1 == cfg.steps:
            row["val_bpc"] = val_bpc()
        return row

    if not quiet:
        print(f"train-charlm: {len(text):,} chars, vocab {len(vocab)}, LSTM {cfg.hidden}x"
              f"{cfg.layers}, {cfg.optimizer} lr {cfg.lr}, clip {clipper.label}, "
              f"{cfg.steps} steps", file=sys.stderr)
    res: LoopResult = run_loop(step, cfg.steps, rec, run=label, desc="charlm", quiet=quiet)
    ckpt = out / "model.npz"
    save_checkpoint(ckpt, model, vocab, cfg, res.steps)
    final_val = val_bpc()
    result = {"checkpoint": ckpt, "steps": res.steps, "interrupted": res.interrupted,
              "val_bpc": final_val, "model": model, "vocab": vocab, "seconds": res.seconds}
    if recorder is None:
        files = rec.save(out)
        fig = plot_traces(rec, out / "charlm_traces.png", "char LSTM") if plot else None
        if not quiet:
            print(f"{res.steps} steps in {res.seconds:.1f} s; validation {final_val:.3f} "
                  f"bits/char; checkpoint {ckpt}; metrics {files[0]}"
                  + (f"; plot {fig}" if fig else ""))
    return result


def load_checkpoint(path: str | Path) -> tuple[CharLM, CharVocab, dict[str, Any]]:
    """Rebuild the model and vocabulary saved by :func:`train_charlm`."""
    from .. import load

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    state = load(path)
    if not isinstance(state, dict) or "vocab" not in state or "config" not in state:
        raise ValueError(f"{path} is not a train-charlm checkpoint")
    cfg = state["config"]
    vocab = CharVocab.from_array(state["vocab"])
    model = CharLM(len(vocab), int(cfg["hidden"]), int(cfg["layers"]))
    model.load_state_dict(state["model"])
    model.eval()
    return model, vocab, cfg


def generate(model: CharLM, vocab: CharVocab, n_chars: int, prompt: str = "",
             temperature: float = 0.8, seed: int = 0) -> str:
    """Sample ``n_chars`` characters after ``prompt`` (characters outside the vocabulary are
    dropped from the prompt)."""
    from .. import no_grad

    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    rng = np.random.default_rng(seed)
    prompt = "".join(c for c in prompt if c in vocab.stoi) or ("\n" if "\n" in vocab.stoi
                                                                else vocab.itos[0])
    out: list[str] = []
    with no_grad():
        logits, state = model(vocab.encode(prompt)[:, None])
        for _ in range(n_chars):
            z = logits.data[-1, 0].astype(np.float64) / temperature
            p = np.exp(z - z.max())
            i = int(rng.choice(len(p), p=p / p.sum()))
            out.append(vocab.itos[i])
            logits, state = model(np.array([[i]]), state)
    return prompt + "".join(out)


def sample_checkpoint(path: str | Path, n_chars: int = 400, prompt: str = "",
                      temperature: float = 0.8, seed: int = 0) -> str:
    """Load a checkpoint and sample text from it."""
    model, vocab, _ = load_checkpoint(path)
    return generate(model, vocab, n_chars, prompt, temperature, seed)
