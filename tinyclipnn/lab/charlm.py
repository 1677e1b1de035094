"""Character-level LSTM language model: training (``tinyclipnn train-charlm``) with checkpoints
you can resume bit for bit, in one process or data-parallel over MPI ranks (one loop; what
differs is in `lab.ranks`).  Also used by the ``charlm`` demo; sampling is in `charlm_sample`.

A checkpoint (``OUT/model.npz``, see `lab.checkpoint`) holds the model, the vocabulary, the
optimizer, the clipper's state, both random generators (batches and the global one), the step
and the config. It is written every ``save_every`` steps, at the end, and after Ctrl-C (which
takes effect between steps, see `lab.interrupt`), so ``train_charlm(..., resume=OUT)`` continues
exactly where the run stopped: the same batches, the same updates, the same result as a run that
was never interrupted.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from .. import manual_seed, nn, no_grad, optim
from ..autograd import Tensor, default_generator
from ..data import CharVocab, random_windows, stdlib_corpus, train_val_split
from ..nn import functional
from . import checkpoint
from .charlm_sample import check_sampling, generate
from .clipspec import parse_clip
from .interrupt import InterruptGuard, reset_stop
from .loop import LoopResult, run_loop
from .metrics import MetricsRecorder
from .plotting import plot_traces
from .ranks import MPIRanks, OneProcess
from .textfile import check_encoding, read_text_file

__all__ = ["CharLMConfig", "CharLM", "DEFAULT_OUT", "CHECKPOINT_NAME", "train_charlm",
           "resume_config", "checkpoint_path", "sample_checkpoint", "load_checkpoint",
           "generate"]

LN2 = math.log(2.0)
DEFAULT_OUT = "runs/train-charlm"  # its own folder: `demo charlm` writes runs/charlm
CHECKPOINT_NAME = "model.npz"
VAL_FRACTION = 0.1
_INT_FIELDS = ("steps", "hidden", "layers", "seq_len", "batch_size", "max_chars", "eval_every",
               "eval_windows", "save_every")
_RESUMABLE_CHANGES = ("steps", "save_every", "text")  # may differ on resume (text: path only)


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
    encoding: str = "utf-8"
    save_every: int = 100

    def validate(self) -> None:
        """``ValueError`` naming the option (``--steps`` ...) for any value out of range."""
        for name in _INT_FIELDS:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{_option(name)} must be an integer >= 1, got {v!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) \
                or self.seed < 0:
            raise ValueError(f"--seed must be an integer >= 0, got {self.seed!r}")
        if not isinstance(self.lr, (int, float)) or not math.isfinite(self.lr) or self.lr <= 0:
            raise ValueError(f"--lr must be a finite number > 0, got {self.lr!r}")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"--optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        check_encoding(self.encoding)
        parse_clip(self.clip)

    @classmethod
    def from_saved(cls, saved: dict[str, Any]) -> CharLMConfig:
        """The config stored in a checkpoint (older checkpoints lack newer fields)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in saved.items() if k in known}
        if values.get("text") == "":
            values["text"] = None
        return cls(**values)


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


class CharLM(nn.Module):
    """Embedding -> LSTM -> Linear over the vocabulary."""

    def __init__(self, vocab_size: int, hidden: int, layers: int = 1) -> None:
        super().__init__()
        emb = min(64, hidden)
        self.embed = nn.Embedding(vocab_size, emb)
        self.lstm = nn.LSTM(emb, hidden, num_layers=layers)
        self.head = nn.Linear(hidden, vocab_size)

    @staticmethod
    def param_shapes(vocab_size: int, hidden: int, layers: int = 1) -> dict[str, tuple]:
        """The state dict's shapes, known without allocating the model (checkpoint checks)."""
        emb = min(64, hidden)
        shapes = {"embed.weight": (vocab_size, emb)}
        for k in range(layers):
            shapes.update({f"lstm.weight_ih_l{k}": (4 * hidden, emb if k == 0 else hidden),
                           f"lstm.weight_hh_l{k}": (4 * hidden, hidden),
                           f"lstm.bias_ih_l{k}": (4 * hidden,),
                           f"lstm.bias_hh_l{k}": (4 * hidden,)})
        shapes.update({"head.weight": (vocab_size, hidden), "head.bias": (vocab_size,)})
        return shapes

    def forward(self, ids: np.ndarray, state: Any = None) -> tuple[Tensor, Any]:
        """Logits (T, B, V) for ids (T, B), and the LSTM state to continue from."""
        out, state = self.lstm(self.embed(ids), state)
        return self.head(out), state

    def loss(self, ids: np.ndarray, targets: np.ndarray) -> Tensor:
        """Mean cross-entropy of the next-character predictions for ``ids`` (T, B)."""
        logits, _ = self(ids)
        return functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def _build_optimizer(cfg: CharLMConfig, model: CharLM, clipper: Any) -> optim.Optimizer:
    if cfg.optimizer == "adam":
        return optim.Adam(model.parameters(), lr=cfg.lr, clipper=clipper)
    if cfg.optimizer == "sgd":
        return optim.SGD(model.parameters(), lr=cfg.lr, clipper=clipper)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', got {cfg.optimizer!r}")


def checkpoint_path(path: str | Path) -> Path:
    """``path`` itself, or ``path/model.npz`` for a run folder; ``ValueError`` /
    ``FileNotFoundError`` when there is none."""
    path = Path(path)
    if path.is_dir():
        if (path / CHECKPOINT_NAME).is_file():
            return path / CHECKPOINT_NAME
        raise ValueError(f"{path} is a folder without a {CHECKPOINT_NAME}; give a train-charlm "
                         "output folder or its checkpoint file")
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    return path


def _read_checkpoint(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """The checkpoint dict, with its model / vocab / config entries checked (no allocation
    beyond what the file holds)."""
    path = checkpoint_path(path)
    state = checkpoint.read(path)
    what = f"{path} is not a train-charlm checkpoint"
    for key, typ in (("model", dict), ("vocab", np.ndarray), ("config", dict)):
        if not isinstance(state.get(key), typ):
            raise ValueError(f"{what} (its '{key}' entry is missing or malformed)")
    cfg = state["config"]
    codes = state["vocab"]
    if codes.ndim != 1 or codes.dtype.kind not in "iu" or not codes.size \
            or codes.min() < 0 or codes.max() > 0x10FFFF or len(np.unique(codes)) != codes.size:
        raise ValueError(f"{what} (its vocabulary is malformed)")
    dims = {}
    for name in ("hidden", "layers"):
        v = cfg.get(name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{what} (config '{name}' is {v!r}, not an integer >= 1)")
        dims[name] = v
    want = CharLM.param_shapes(codes.size, dims["hidden"], dims["layers"])
    got = {k: getattr(v, "shape", None) for k, v in state["model"].items()}
    if got != want:
        bad = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
        raise ValueError(f"{what} (its model weights do not match its config at "
                         f"{', '.join(bad[:4])})")
    return path, state


def load_checkpoint(path: str | Path) -> tuple[CharLM, CharVocab, dict[str, Any]]:
    """Rebuild the model and vocabulary saved by :func:`train_charlm` (a file or run folder)."""
    path, state = _read_checkpoint(path)
    cfg = state["config"]
    vocab = CharVocab.from_array(state["vocab"])
    model = CharLM(len(vocab), cfg["hidden"], cfg["layers"])
    try:
        model.load_state_dict(state["model"])
    except (KeyError, TypeError) as e:
        raise ValueError(f"{path}: its model weights cannot be loaded ({e})") from None
    model.eval()
    return model, vocab, cfg


def resume_config(path: str | Path, **overrides: Any) -> CharLMConfig:
    """The config of the checkpoint at ``path`` with ``overrides`` (options given again)."""
    _, state = _read_checkpoint(path)
    cfg = CharLMConfig.from_saved(state["config"])
    return CharLMConfig(**{**asdict(cfg), **{k: v for k, v in overrides.items()
                                           if v is not None}})


def _check_resume(cfg: CharLMConfig, saved: dict[str, Any], where: Path) -> None:
    old = asdict(CharLMConfig.from_saved(saved))
    for k, v in asdict(cfg).items():
        if k not in _RESUMABLE_CHANGES and old[k] != v:
            raise ValueError(f"--resume: {where} was trained with {_option(k)} {old[k]}, this "
                             f"run asks for {_option(k)} {v}; drop the option to continue that "
                             "run, or start a new run in another --out")


def _check_out(out: Path, resume: Path | None, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder (created if missing)")
    ckpt = out / CHECKPOINT_NAME
    continuing = resume is not None and ckpt.resolve() == resume.resolve()
    if ckpt.exists() and not (overwrite or continuing):
        raise ValueError(f"--out {out} already holds a checkpoint ({CHECKPOINT_NAME}); pass "
                         f"--resume {out} to continue it, --overwrite to replace it, or choose "
                         "another --out")


def _corpus(cfg: CharLMConfig) -> tuple[str, CharVocab, np.ndarray, np.ndarray]:
    text = (stdlib_corpus(cfg.max_chars) if cfg.text is None
            else read_text_file(cfg.text, cfg.max_chars, cfg.encoding))
    need = int(round((cfg.seq_len + 2) / VAL_FRACTION))
    if len(text) < need:
        more = " or a larger --max-chars" if len(text) == cfg.max_chars else ""
        raise ValueError(f"--text gives {len(text):,} characters, too few for --seq-len "
                         f"{cfg.seq_len}: at least {need:,} are needed ({VAL_FRACTION:.0%} is "
                         f"held out for validation); use a longer text{more} or a smaller "
                         "--seq-len")
    vocab = CharVocab.from_text(text)
    train_ids, val_ids = train_val_split(vocab.encode(text), VAL_FRACTION)
    return text, vocab, train_ids, val_ids


def _earlier_metrics(folder: Path, before: int) -> list[dict[str, Any]]:
    """Rows of ``folder/metrics.json`` for steps before ``before`` (a resumed run's history;
    later rows, of steps the checkpoint does not hold, are dropped: they are run again). A
    missing step is reported: the metrics and checkpoint are written together (see
    `checkpoint.write_with_metrics`), so only an older tinyclipnn or an edited file leaves one."""
    try:
        rows = json.loads((folder / "metrics.json").read_text())["steps"]
        rows = [r for r in rows if isinstance(r, dict) and int(r.get("step", before)) < before]
    except (OSError, ValueError, KeyError, TypeError):
        rows = []
    have = {int(r["step"]) for r in rows}
    missing = [k for k in range(before) if k not in have]
    if missing:
        print(f"warning: {folder / 'metrics.json'} lacks the metrics of {len(missing)} of the "
              f"{before} steps before the checkpoint (first: step {missing[0]}); the resumed "
              "metrics.csv will not have them", file=sys.stderr)
    return rows


def train_charlm(cfg: CharLMConfig, out: str | Path = DEFAULT_OUT, quiet: bool = False,
                 recorder: MetricsRecorder | None = None, run: str | None = None,
                 plot: bool = True, resume: str | Path | None = None,
                 overwrite: bool = True, comm: Any = None) -> dict[str, Any]:
    """Train a char LSTM; writes ``model.npz``, ``metrics.csv/json`` and a plot into ``out``.

    ``resume``: a checkpoint (file or run folder) to continue from; ``cfg`` must then equal its
    config except ``steps`` / ``save_every`` (see `resume_config`). ``overwrite=False`` refuses
    an ``out`` that already holds a checkpoint (unless it is the one resumed). Everything is
    checked before anything is written. Ctrl-C stops between steps; the checkpoint of the steps
    done is still written (``result["interrupted"]``).

    ``comm``: an MPI communicator to train data-parallel over its ranks (`lab.ranks`);
    ``cfg.batch_size`` is then the global batch and must be a multiple of the number of ranks.
    Rank 0 writes and prints; ``checkpoint`` and ``val_bpc`` are in rank 0's result only. Its
    checkpoint is an ordinary one (the optimizer state is the same on every rank), so ``sample``
    and a one-process ``resume`` read it."""
    ranks = OneProcess() if comm is None else MPIRanks(comm)
    cfg.validate()
    if comm is not None and resume is not None:
        raise ValueError("--resume is not supported with --distributed; resume the "
                         "checkpoint in one process, or start a new distributed run")
    if cfg.batch_size % ranks.size:
        raise ValueError(f"--batch-size {cfg.batch_size} must be a multiple of the number of "
                         f"ranks ({ranks.size}) with --distributed: each rank trains on an equal "
                         f"slice of the global batch; use e.g. --batch-size "
                         f"{ranks.size * max(1, cfg.batch_size // ranks.size)}")
    out = Path(out)
    resume_file, saved = None, None
    if resume is not None:
        resume_file, saved = _read_checkpoint(resume)
        _check_resume(cfg, saved["config"], resume_file)
    ranks.on_root(lambda: _check_out(out, resume_file, overwrite))
    clipper = parse_clip(cfg.clip)
    quiet = quiet or not ranks.root
    with ranks.failures_abort():
        text, vocab, train_ids, val_ids = _corpus(cfg)
        manual_seed(cfg.seed)
        model = CharLM(len(vocab), cfg.hidden, cfg.layers)
        opt = _build_optimizer(cfg, model, clipper)
        ranks.attach(model, opt)
        rng = np.random.default_rng(cfg.seed)
        objects = {"optimizer": opt, "clipper": clipper}  # the model is saved as "model"
        rngs = {"data": rng, "global": default_generator()}
        start = 0
        if saved is not None:
            if not np.array_equal(saved["vocab"], vocab.to_array()):
                raise ValueError(f"--resume: the text differs from the one {resume_file} was "
                                 "trained on (its characters changed); give the same --text")
            model.load_state_dict(saved["model"])
            start = checkpoint.restore(saved, objects, rngs, str(resume_file))
            if start > cfg.steps:
                raise ValueError(f"--steps {cfg.steps} is less than the {start} steps "
                                 f"{resume_file} has done; give --steps > {start} to train on")
        if recorder is None:  # a command of its own (not part of a demo): forget older Ctrl-C
            reset_stop()
        if ranks.root:
            out.mkdir(parents=True, exist_ok=True)
        val_x, val_y = random_windows(val_ids, cfg.eval_windows, cfg.seq_len,
                                      np.random.default_rng(cfg.seed + 1))
        rec = recorder if recorder is not None else MetricsRecorder(
            {"command": "train-charlm", **ranks.metadata, **asdict(cfg)})
        if recorder is None and resume_file is not None:
            for row in _earlier_metrics(resume_file.parent, start):
                rec.record(**row)
        label = run or f"clip={clipper.label}"
        ckpt = out / CHECKPOINT_NAME
        conf = {k: ("" if v is None else v) for k, v in asdict(cfg).items()}
        if cfg.text is not None:  # a resume from another folder finds the same file
            conf["text"] = str(Path(cfg.text).resolve())
        mine = ranks.my_slice(cfg.batch_size)

        def save(step: int) -> None:  # metrics, then checkpoint: one unit (no Ctrl-C between)
            if ranks.root:
                checkpoint.write_with_metrics(
                    ckpt, checkpoint.capture(step, conf, objects, rngs, model=model.state_dict(),
                                             vocab=vocab.to_array()),
                    rec if recorder is None else None, out)

        def val_bpc() -> float:
            with no_grad():
                return model.loss(val_x, val_y).item() / LN2

        mid_step = [False]  # a forced (second) Ctrl-C inside a step: its state is not saved

        def step(i: int) -> dict:
            k = start + i
            ranks.before_step(guard)
            if i and k % cfg.save_every == 0:
                save(k)
            mid_step[0] = True
            x, y = random_windows(train_ids, cfg.batch_size, cfg.seq_len, rng)  # global batch
            loss = model.loss(x[:, mine], y[:, mine])
            opt.zero_grad()
            loss.backward()
            opt.step()  # with N ranks, the gradients are averaged first, then clipped
            mid_step[0] = False
            mean, stop = ranks.after_step(loss.item(), guard)
            row = {"step": k, "loss": mean, **opt.last_clip.as_dict(), "bpc": mean / LN2}
            if stop:
                row["stop"] = True
            if ranks.root and ((k + 1) % cfg.eval_every == 0 or k + 1 == cfg.steps):
                row["val_bpc"] = val_bpc()
            return row

        with InterruptGuard() as guard:  # to the end: a Ctrl-C after the last step still gets
            ranks.barrier()  # the checkpoint, metrics, plot and summary; every rank defers it
            if not quiet:
                across = ("" if comm is None else f" --distributed: {ranks.size} ranks x "
                          f"{cfg.batch_size // ranks.size} windows,")
                print(f"train-charlm{across}: {len(text):,} chars, vocab {len(vocab)}, LSTM "
                      f"{cfg.hidden}x{cfg.layers}, {cfg.optimizer} lr {cfg.lr}, clip "
                      f"{clipper.label}, "
                      + (f"steps {start}..{cfg.steps} (resumed)" if start else f"{cfg.steps} steps"),
                      file=sys.stderr, flush=True)
            res: LoopResult = run_loop(step, cfg.steps - start, rec if ranks.root else None,
                                       run=label, desc="charlm", quiet=quiet)
            done = start + res.steps
            if mid_step[0]:
                print(f"stopped inside step {done}: its half-done update is not saved; "
                      f"{ckpt} keeps the last checkpoint", file=sys.stderr)
            else:
                save(done)
            result = {"steps": done, "interrupted": res.interrupted or res.stopped,
                      "model": model, "vocab": vocab, "seconds": res.seconds, "rank": ranks.rank}
            if ranks.root:
                result.update(checkpoint=ckpt, val_bpc=val_bpc())
            if ranks.root and recorder is None:
                fig = plot_traces(rec, out / "charlm_traces.png", "char LSTM") if plot else None
                if not quiet:
                    now = f" ({res.steps} now)" if start else ""
                    on = "" if comm is None else f" on {ranks.size} ranks"
                    print(f"{done} steps{now} in {res.seconds:.1f} s{on}; validation "
                          f"{result['val_bpc']:.3f} bits/char; checkpoint {ckpt}; metrics "
                          f"{out / 'metrics.csv'}" + (f"; plot {fig}" if fig else ""))
        ranks.barrier()  # no rank exits (and tears down MPI) while rank 0 still writes
    return result


def sample_checkpoint(path: str | Path, n_chars: int = 400, prompt: str = "",
                      temperature: float = 0.8, seed: int = 0) -> str:
    """Load a checkpoint (file or run folder) and sample text from it; every argument is
    checked before the checkpoint is read."""
    check_sampling(n_chars, temperature)
    model, vocab, _ = load_checkpoint(path)
    return generate(model, vocab, n_chars, prompt, temperature, seed)
