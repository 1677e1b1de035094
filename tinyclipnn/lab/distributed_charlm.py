"""``mpiexec -n N tinyclipnn train-charlm --distributed``: the char LSTM, data-parallel.

Every rank builds the same model (rank 0's values are broadcast), draws the same global batch
of ``batch_size`` windows from the same generator and trains on its own contiguous slice of
``batch_size / N`` windows; ``DataParallel`` averages the gradients before the clip, so the
update is the one of a single process with the whole batch (to float rounding: a one-process
run and an N-rank run give the same loss curve). Only rank 0 prints and writes files. An
exception on any rank aborts the whole job; Ctrl-C stops every rank after the same step.
"""

from __future__ import annotations

import signal
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ..data import CharVocab, load_text, random_windows, train_val_split
from .charlm import LN2, CharLM, CharLMConfig, _build_optimizer, _loss, save_checkpoint
from .clipspec import parse_clip
from .loop import reset_stop, run_loop
from .metrics import MetricsRecorder
from .plotting import plot_traces

__all__ = ["train_charlm_distributed"]


class _StopFlag:
    """SIGINT sets a flag instead of raising (a second Ctrl-C raises): the flag is then
    all-reduced with the step's loss, so every rank stops after the same step."""

    def __init__(self) -> None:
        self.set = False
        self._previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.set:
            raise KeyboardInterrupt
        self.set = True

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def train_charlm_distributed(cfg: CharLMConfig, out: str | Path = "runs/charlm",
                             quiet: bool = False, plot: bool = True,
                             comm: Any = None) -> dict[str, Any]:
    """Train the char LSTM data-parallel over ``comm`` (default ``COMM_WORLD``).

    ``cfg.batch_size`` is the global batch; it must be a multiple of the number of ranks.
    Rank 0 writes ``model.npz``, ``metrics.csv/json`` and the plot into ``out`` and prints;
    every rank returns the result dict (files and ``val_bpc`` on rank 0 only)."""
    from .. import manual_seed, no_grad
    from ..distributed import DataParallel, abort_on_error, world

    comm = world() if comm is None else comm
    rank, size = comm.Get_rank(), comm.Get_size()
    if cfg.batch_size % size:
        raise ValueError(f"--batch-size {cfg.batch_size} must be a multiple of the number of "
                         f"ranks ({size}) with --distributed: each rank trains on an equal "
                         f"slice of the global batch; use e.g. --batch-size "
                         f"{size * max(1, cfg.batch_size // size)}")
    clipper = parse_clip(cfg.clip)
    root = rank == 0
    quiet = quiet or not root
    with abort_on_error(comm):
        from mpi4py import MPI

        reset_stop()
        out = Path(out)
        text = load_text(cfg.text, cfg.max_chars)
        vocab = CharVocab.from_text(text)
        train_ids, val_ids = train_val_split(vocab.encode(text), 0.1)
        manual_seed(cfg.seed)
        model = CharLM(len(vocab), cfg.hidden, cfg.layers)
        opt = _build_optimizer(cfg, model, clipper)
        DataParallel(model, comm).attach(opt)
        rng = np.random.default_rng(cfg.seed)
        val_x, val_y = random_windows(val_ids, cfg.eval_windows, cfg.seq_len,
                                      np.random.default_rng(cfg.seed + 1))
        rec = MetricsRecorder({"command": "train-charlm", "ranks": size, **asdict(cfg)})
        mine = slice(rank * cfg.batch_size // size, (rank + 1) * cfg.batch_size // size)
        reduced = np.zeros(2)

        def val_bpc() -> float:
            with no_grad():
                return _loss(model, val_x, val_y).item() / LN2

        def step(k: int) -> dict:
            x, y = random_windows(train_ids, cfg.batch_size, cfg.seq_len, rng)  # global batch
            loss = _loss(model, x[:, mine], y[:, mine])
            opt.zero_grad()
            loss.backward()
            opt.step()  # DataParallel averages the gradients, then the clipper runs
            reduced[:] = loss.item(), float(stop.set)
            comm.Allreduce(MPI.IN_PLACE, reduced, op=MPI.SUM)
            mean = reduced[0] / size
            row = {"loss": mean, **opt.last_clip.as_dict(), "bpc": mean / LN2,
                   "stop": reduced[1] > 0}
            if root and ((k + 1) % cfg.eval_every == 0 or k + 1 == cfg.steps):
                row["val_bpc"] = val_bpc()
            return row

        if not quiet:
            print(f"train-charlm --distributed: {size} ranks x {cfg.batch_size // size} "
                  f"windows, {len(text):,} chars, vocab {len(vocab)}, LSTM {cfg.hidden}x"
                  f"{cfg.layers}, {cfg.optimizer} lr {cfg.lr}, clip {clipper.label}, "
                  f"{cfg.steps} steps", file=sys.stderr)
        with _StopFlag() as stop:
            res = run_loop(step, cfg.steps, rec if root else None,
                           run=f"clip={clipper.label}", desc="charlm", quiet=quiet)
        result: dict[str, Any] = {"steps": res.steps, "interrupted": bool(reduced[1]), "model": model,
                                  "vocab": vocab, "seconds": res.seconds, "rank": rank}
        if root:
            out.mkdir(parents=True, exist_ok=True)
            ckpt = out / "model.npz"
            save_checkpoint(ckpt, model, vocab, cfg, res.steps)
            files = rec.save(out)
            fig = plot_traces(rec, out / "charlm_traces.png", "char LSTM") if plot else None
            result.update(checkpoint=ckpt, val_bpc=val_bpc())
            if not quiet:
                print(f"{res.steps} steps in {res.seconds:.1f} s on {size} ranks; validation "
                      f"{result['val_bpc']:.3f} bits/char; checkpoint {ckpt}; metrics "
                      f"{files[0]}" + (f"; plot {fig}" if fig else ""))
        comm.Barrier()  # no rank exits (and tears down MPI) while rank 0 still writes
    return result
