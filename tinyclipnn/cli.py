"""``tinyclipnn`` command line (also ``python -m tinyclipnn``): demos, info, char-LM training
and sampling.  A thin caller of :mod:`tinyclipnn.lab`.

Each command is a ``_add_NAME(sub)`` function that registers its parser and sets ``func``; a
new command is one such function plus one entry in `_COMMANDS`. Bad input is a ``ValueError`` /
``OSError`` from the lab code, printed as ``tinyclipnn CMD: error: ...`` with exit status 2;
Ctrl-C exits 130 (after the command saved what it had), whatever caught it on the way: every
Ctrl-C during a command is counted (`lab.interrupt`).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from . import __version__
from ._cli_args import integer, integer_list, name_list, nonempty, out_folder
from .distributed import world
from .lab import charlm, info, interrupt, registry, reproduce

CLIP_HELP = ("clipping method: none, value:C, norm:C[,p], pertensor:C, agc:LAMBDA, "
             "autoclip:PERCENTILE, zclip[:key=value,...]  (default: %(default)s)")


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.list:
        for d in registry.list_demos():
            star = " (default)" if d.name == registry.FLAGSHIP else ""
            print(f"  {d.name:<10} {d.summary}{star}")
        return 0
    result = registry.run_demo(args.name or registry.FLAGSHIP, quick=args.quick, seed=args.seed,
                               out=args.out, quiet=args.quiet)
    if result is None:
        return 1
    return 130 if getattr(result, "interrupted", False) else 0


def _add_demo(sub: Any) -> None:
    d = sub.add_parser("demo", help="run a demo (default: the flagship 'exploding')",
                       description="Run a demo; writes metrics.csv/json, summary.json and PNG "
                                   "plots into --out.")
    d.add_argument("name", nargs="?", type=nonempty, help="demo name (see --list)")
    d.add_argument("--list", action="store_true", help="list the demos and exit")
    d.add_argument("--quick", action="store_true", help="small, fast version (<= 30 s)")
    d.add_argument("--seed", type=integer(0), default=0, help="random seed (default: 0)")
    d.add_argument("--out", type=out_folder, default=None,
                   help="output folder (default: runs/NAME)")
    d.add_argument("--quiet", action="store_true", help="no progress lines")
    d.set_defaults(func=_cmd_demo)


def _cmd_info(args: argparse.Namespace) -> int:
    report = info.collect_info()
    if report["mpi"].get("rank", 0) == 0:  # under mpiexec, one copy of the report
        print(info.format_info(report))
    return 0


def _add_info(sub: Any) -> None:
    i = sub.add_parser("info", help="versions, backends, threads, kernel cache")
    i.set_defaults(func=_cmd_info)


# train-charlm options that are CharLMConfig fields (None when not given: with --resume, the
# checkpoint's value is used)
_CONFIG_OPTIONS = ("text", "clip", "steps", "hidden", "layers", "seq_len", "batch_size", "lr",
                   "optimizer", "seed", "max_chars", "encoding", "save_every")


def _cmd_train_charlm(args: argparse.Namespace) -> int:
    given = {k: getattr(args, k) for k in _CONFIG_OPTIONS if getattr(args, k) is not None}
    if args.resume is not None:
        cfg = charlm.resume_config(args.resume, **given)
        out = args.out or charlm.checkpoint_path(args.resume).parent
    else:
        cfg = charlm.CharLMConfig(**given)
        out = args.out or charlm.DEFAULT_OUT
    result = charlm.train_charlm(cfg, out=out, quiet=args.quiet, resume=args.resume,
                                 overwrite=args.overwrite,
                                 comm=world() if args.distributed else None)
    return 130 if result["interrupted"] else 0


def _add_train_charlm(sub: Any) -> None:
    d = charlm.CharLMConfig()
    t = sub.add_parser("train-charlm", help="train a character LSTM on a text file",
                       description="Train a character-level LSTM language model; writes a "
                                   "checkpoint (model.npz: model, optimizer, clipper and random "
                                   "state) plus metrics into --out. --resume continues a run "
                                   "exactly where it stopped.")
    t.add_argument("--text", type=nonempty,
                   help="text file (default: a corpus built from the Python standard library's "
                        "source files; no download)")
    t.add_argument("--encoding", help=f"encoding of --text (default: {d.encoding})")
    t.add_argument("--clip", type=nonempty, help=CLIP_HELP.replace("%(default)s", d.clip))
    t.add_argument("--steps", type=int, help=f"total training steps (default: {d.steps})")
    t.add_argument("--hidden", type=int, help=f"LSTM hidden size (default: {d.hidden})")
    t.add_argument("--layers", type=int, help=f"LSTM layers (default: {d.layers})")
    t.add_argument("--seq-len", type=int, help=f"BPTT length (default: {d.seq_len})")
    t.add_argument("--batch-size", type=int, help=f"batch size (default: {d.batch_size})")
    t.add_argument("--lr", type=float, help=f"learning rate (default: {d.lr})")
    t.add_argument("--optimizer", choices=("adam", "sgd"),
                   help=f"optimizer (default: {d.optimizer})")
    t.add_argument("--max-chars", type=int,
                   help=f"read at most this many characters of text (default: {d.max_chars:,})")
    t.add_argument("--seed", type=int, help=f"random seed (default: {d.seed})")
    t.add_argument("--save-every", type=int,
                   help=f"write the checkpoint every N steps (default: {d.save_every})")
    t.add_argument("--out", type=out_folder,
                   help=f"output folder (default: {charlm.DEFAULT_OUT}; with --resume, the "
                        "resumed run's folder)")
    t.add_argument("--resume", metavar="DIR", type=nonempty,
                   help="continue the run saved in DIR (or its model.npz) exactly where it "
                        "stopped; its options are used unless given again, --steps sets the "
                        "new total")
    t.add_argument("--overwrite", action="store_true",
                   help="replace a checkpoint already in --out (default: refuse)")
    t.add_argument("--quiet", action="store_true", help="no progress lines")
    t.add_argument("--distributed", action="store_true",
                   help="data-parallel over MPI ranks: mpiexec -n N tinyclipnn train-charlm "
                        "--distributed ... (--batch-size is the global batch)")
    t.set_defaults(func=_cmd_train_charlm)


def _cmd_sample(args: argparse.Namespace) -> int:
    text = charlm.sample_checkpoint(args.checkpoint, n_chars=args.length, prompt=args.prompt,
                             temperature=args.temperature, seed=args.seed)
    print(text)
    return 0


def _add_sample(sub: Any) -> None:
    s = sub.add_parser("sample", help="generate text from a train-charlm checkpoint")
    s.add_argument("checkpoint", type=nonempty,
                   help="checkpoint written by train-charlm (model.npz or its folder)")
    s.add_argument("--length", type=int, default=400,
                   help="characters to generate (default: 400)")
    s.add_argument("--prompt", default="", help="text to start from")
    s.add_argument("--temperature", type=float, default=0.8,
                   help="sampling temperature; 0 always picks the most likely character "
                        "(default: 0.8)")
    s.add_argument("--seed", type=integer(0), default=0, help="random seed (default: 0)")
    s.set_defaults(func=_cmd_sample)


@contextlib.contextmanager
def _stoppable_in_background() -> Iterator[None]:
    """Let a long sweep launched in the background stop as Ctrl-C stops it (running cells save
    and record themselves as interrupted, worker processes end, the same command resumes):
    ``cmd &`` from a script starts it with SIGINT ignored (the shell's rule for background jobs
    without job control), so ``kill -INT PID`` would do nothing; and ``kill PID`` (SIGTERM)
    would end this process alone and leave its worker processes running their cells. Inside,
    SIGINT has Python's default handler and SIGTERM raises a SIGINT; both come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old_int, old_term = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    if old_int is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if old_term is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: signal.raise_signal(signal.SIGINT))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)


def _cmd_reproduce(args: argparse.Namespace) -> int:
    with _stoppable_in_background():
        reproduce.reproduce_pascanu(
            args.out, args.budget, part=args.grid, tasks=args.tasks, lengths=args.lengths,
            methods=args.methods, seeds=args.seeds, max_steps=args.max_steps,
            max_length=args.max_length, init=args.init, alpha=args.alpha, workers=args.workers,
            scheduler=args.scheduler, dask_local=args.dask_local, quiet=args.quiet,
            run=not args.report_only, rerun=args.rerun)
    return 0


def _add_reproduce(sub: Any) -> None:
    r = sub.add_parser("reproduce", help="reproduce a paper's experiment (pascanu: Fig. 7)",
                       description="Pascanu et al. (2013) pathological tasks x lengths x methods "
                                   "(sgd, sgd-c, sgd-cr, sgd-cr-bptt) x seeds as a resumable "
                                   "sweep: relaunch the same command to continue.")
    r.add_argument("experiment", choices=["pascanu"])
    what = r.add_mutually_exclusive_group()
    what.add_argument("--budget", choices=["quick", "session", "paper"],
                      help="quick: minutes; session: 10k updates/run; paper: their caps "
                           "(default: quick)")
    what.add_argument("--grid", choices=["fig7-smart", "fig7-basic", "fig7-sigmoid", "mixed",
                                         "memorisation"],
                      help="one part of the full reproduction: Fig. 7's smart tanh panel "
                           "(T 50-200, 5 seeds, 200k-update cap), basic tanh / sigmoid panels "
                           "(T 50, 100, 3 seeds, 100k), the four mixed-length tasks (50-200, "
                           "MSGD-CR, 3 seeds, 200k) or noiseless memorisation (T 50, 200k)")
    r.add_argument("--tasks", type=name_list,
                   help="comma-separated tasks (default: from --budget / --grid)")
    r.add_argument("--lengths", type=integer_list(1),
                   help="comma-separated sequence lengths (default: from --budget / --grid)")
    r.add_argument("--methods", type=name_list,
                   help="comma-separated methods (default: from --budget / --grid)")
    r.add_argument("--seeds", type=integer(1), help="runs per task, length and method")
    r.add_argument("--max-steps", type=integer(1),
                   help="update cap per run (default: from --budget / --grid)")
    r.add_argument("--max-length", type=integer(1),
                   help="train on lengths drawn from [T, MAX_LENGTH) (their code's sampling)")
    r.add_argument("--init", choices=["sigmoid", "basic-tanh", "smart-tanh"],
                   help="their code's initialisation (default: from --grid, else smart-tanh)")
    r.add_argument("--alpha", type=float,
                   help="weight of the regularizer Omega (default: 4, the paper's for Fig. 7; "
                        "their code's default is 2)")
    r.add_argument("--workers", type=integer(0),
                   help="local worker processes (default: one per core; 0: run in this process)")
    where = r.add_mutually_exclusive_group()
    where.add_argument("--scheduler", type=nonempty,
                       help="Dask scheduler address tcp://HOST:PORT")
    where.add_argument("--dask-local", type=integer(1), metavar="N",
                       help="start a Dask LocalCluster of N")
    r.add_argument("--out", type=out_folder,
                   help="output folder (default: runs/pascanu, or runs/pascanu-GRID)")
    r.add_argument("--quiet", action="store_true", help="no progress line")
    r.add_argument("--rerun", action="store_true",
                   help="recompute every run, ignoring results and checkpoints of earlier "
                        "launches (default: reuse runs finished by the same code, resume "
                        "interrupted ones)")
    r.add_argument("--report-only", action="store_true",
                   help="run nothing: tables, summary and figure from the runs finished so far")
    r.set_defaults(func=_cmd_reproduce)


_COMMANDS = (_add_demo, _add_info, _add_train_charlm, _add_sample, _add_reproduce)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    p = argparse.ArgumentParser(
        prog="tinyclipnn",
        description="See exploding gradients and what gradient clipping does about them.")
    p.add_argument("--version", action="version", version=f"tinyclipnn {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for add in _COMMANDS:
        add(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tinyclipnn`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    interrupt.reset_stop()  # an earlier command in this process (tests, notebooks) is not ours
    try:
        with interrupt.raising() as ctrl_c:  # Python's Ctrl-C, counted: caught or not: 130
            code = int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, ImportError) as e:  # bad input: a message, not a traceback
        print(f"tinyclipnn {args.command}: error: {e}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"tinyclipnn {args.command}: error: out of memory; use smaller sizes (e.g. "
              "--hidden, --batch-size, --seq-len, --max-chars)", file=sys.stderr)
        return 1
    return 130 if ctrl_c.received or interrupt.stop_requested() else code  # so `&&` chains stop


def demo_main(name: str, argv: Sequence[str] | None = None) -> int:
    """Entry point of the thin ``demos/<name>.py`` scripts: parse ``[--quick] [--seed N]
    [--out DIR] [--quiet]`` and run demo ``name`` (the same as ``tinyclipnn demo NAME ...``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    return main(["demo", name, *args])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
