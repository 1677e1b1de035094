"""``mpiexec -n N tinyclipnn train-charlm --distributed``: the char LSTM, data-parallel.

Every rank builds the same model (rank 0's values are broadcast), draws the same global batch
of ``batch_size`` windows from the same generator and trains on its own contiguous slice of
``batch_size / N`` windows; ``DataParallel`` averages the gradients before the clip, so the
update is the one of a single process with the whole batch (to float rounding: a one-process
run and an N-rank run give the same loss curve). Only rank 0 prints and writes files; its
checkpoint is an ordinary train-charlm checkpoint (the optimizer state is the same on every
rank), so ``sample`` and a one-process ``--resume`` read it. An exception on any rank aborts
the whole job; Ctrl-C stops every rank after the same step.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ..data import random_windows
from . import checkpoint
from .charlm import (
    CHECKPOINT_NAME,
    DEFAULT_OUT,
    LN2,
    CharLM,
    CharLMConfig,
    _build_optimizer,
    _check_out,
    _corpus,
    _loss,
)
from .clipspec import parse_clip
from .interrupt import InterruptGuard
from .loop import reset_stop, run_loop
from .metrics import MetricsRecorder
from .plotting import plot_traces

__all__ = ["train_charlm_distributed"]


def _checked_on_root(comm: Any, check: Callable[[], None]) -> None:
    """Run ``check`` on rank 0 and raise its ``ValueError`` / ``OSError`` on EVERY rank (a
    rank that went on alone would wait for the others in a collective forever)."""
    err = None
    if comm.Get_rank() == 0:
        try:
            check()
        except (ValueError, OSError) as e:
            err = e
    err = comm.bcast(err, root=0)
    if err is not None:
        raise err


def train_charlm_distributed(cfg: CharLMConfig, out: str | Path = DEFAULT_OUT,
                             quiet: bool = False, plot: bool = True, overwrite: bool = True,
                             comm: Any = None) -> dict[str, Any]:
    """Train the char LSTM data-parallel over ``comm`` (default ``COMM_WORLD``).

    ``cfg.batch_size`` is the global batch; it must be a multiple of the number of ranks.
    Rank 0 writes the checkpoint (every ``save_every`` steps and at the end), the metrics and
    the plot into ``out`` and prints; every rank returns the result dict (``checkpoint`` and
    ``val_bpc`` on rank 0 only)."""
    from .. import manual_seed, no_grad
    from ..autograd import default_generator
    from ..distributed import DataParallel, abort_on_error, world

    comm = world() if comm is None else comm
    rank, size = comm.Get_rank(), comm.Get_size()
    root = rank == 0
    out = Path(out)
    cfg.validate()
    if cfg.batch_size % size:
        raise ValueError(f"--batch-size {cfg.batch_size} must be a multiple of the number of "
                         f"ranks ({size}) with --distributed: each rank trains on an equal "
                         f"slice of the global batch; use e.g. --batch-size "
                         f"{size * max(1, cfg.batch_size // size)}")
    _checked_on_root(comm, lambda: _check_out(out, None, overwrite))
    clipper = parse_clip(cfg.clip)
    quiet = quiet or not root
    with abort_on_error(comm):
        from mpi4py import MPI

        reset_stop()
        text, vocab, train_ids, val_ids = _corpus(cfg)
        manual_seed(cfg.seed)
        model = CharLM(len(vocab), cfg.hidden, cfg.layers)
        opt = _build_optimizer(cfg, model, clipper)
        DataParallel(model, comm).attach(opt)
        rng = np.random.default_rng(cfg.seed)
        val_x, val_y = random_windows(val_ids, cfg.eval_windows, cfg.seq_len,
                                      np.random.default_rng(cfg.seed + 1))
        rec = MetricsRecorder({"command": "train-charlm", "ranks": size, **asdict(cfg)})
        mine = slice(rank * cfg.batch_size // size, (rank + 1) * cfg.batch_size // size)
        reduced = np.zeros(2)  # loss sum, Ctrl-C count
        conf = {k: ("" if v is None else v) for k, v in asdict(cfg).items()}
        ckpt = out / CHECKPOINT_NAME

        def save(step: int) -> None:
            if root:
                out.mkdir(parents=True, exist_ok=True)
                checkpoint.write_with_metrics(ckpt, checkpoint.capture(
                    step, conf, {"optimizer": opt, "clipper": clipper},
                    {"data": rng, "global": default_generator()},
                    model=model.state_dict(), vocab=vocab.to_array()), rec, out)

        def val_bpc() -> float:
            with no_grad():
                return _loss(model, val_x, val_y).item() / LN2

        def step(k: int) -> dict:
            if k and k % cfg.save_every == 0:
                save(k)
            x, y = random_windows(train_ids, cfg.batch_size, cfg.seq_len, rng)  # global batch
            loss = _loss(model, x[:, mine], y[:, mine])
            opt.zero_grad()
            loss.backward()
            opt.step()  # DataParallel averages the gradients, then the clipper runs
            reduced[:] = loss.item(), float(guard.pending)
            comm.Allreduce(MPI.IN_PLACE, reduced, op=MPI.SUM)
            mean = reduced[0] / size
            row = {"step": k, "loss": mean, **opt.last_clip.as_dict(), "bpc": mean / LN2,
                   "stop": reduced[1] > 0}
            if root and ((k + 1) % cfg.eval_every == 0 or k + 1 == cfg.steps):
                row["val_bpc"] = val_bpc()
            return row

        with InterruptGuard() as guard:  # Ctrl-C only sets guard.pending, all-reduced above
            comm.Barrier()  # every rank defers Ctrl-C from here on
            if not quiet:
                print(f"train-charlm --distributed: {size} ranks x {cfg.batch_size // size} "
                      f"windows, {len(text):,} chars, vocab {len(vocab)}, LSTM {cfg.hidden}x"
                      f"{cfg.layers}, {cfg.optimizer} lr {cfg.lr}, clip {clipper.label}, "
                      f"{cfg.steps} steps", file=sys.stderr, flush=True)
            res = run_loop(step, cfg.steps, rec if root else None,
                           run=f"clip={clipper.label}", desc="charlm", quiet=quiet)
        save(res.steps)
        result: dict[str, Any] = {"steps": res.steps, "interrupted": bool(reduced[1]),
                                  "model": model, "vocab": vocab, "seconds": res.seconds,
                                  "rank": rank}
        if root:
            result.update(checkpoint=ckpt, val_bpc=val_bpc())
            fig = plot_traces(rec, out / "charlm_traces.png", "char LSTM") if plot else None
            if not quiet:
                print(f"{res.steps} steps in {res.seconds:.1f} s on {size} ranks; validation "
                      f"{result['val_bpc']:.3f} bits/char; checkpoint {ckpt}; metrics "
                      f"{out / 'metrics.csv'}" + (f"; plot {fig}" if fig else ""))
        comm.Barrier()  # no rank exits (and tears down MPI) while rank 0 still writes
    return result
