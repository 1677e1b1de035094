"""``tinyclipnn`` command line (also ``python -m tinyclipnn``): demos, info, char-LM training
and sampling.  A thin caller of :mod:`tinyclipnn.lab`; heavy imports happen inside commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

CLIP_HELP = ("clipping method: none, value:C, norm:C[,p], pertensor:C, agc:LAMBDA, "
             "autoclip:PERCENTILE, zclip[:key=value,...]  (default: %(default)s)")


def _cmd_demo(args: argparse.Namespace) -> int:
    from .lab.registry import FLAGSHIP, list_demos, run_demo

    if args.list:
        for d in list_demos():
            star = " (default)" if d.name == FLAGSHIP else ""
            print(f"  {d.name:<10} {d.summary}{star}")
        return 0
    result = run_demo(args.name or FLAGSHIP, quick=args.quick, seed=args.seed, out=args.out,
                      quiet=args.quiet, run=not args.report_only)
    return 0 if result is not None else 1


def _cmd_info(args: argparse.Namespace) -> int:
    from .lab.info import collect_info, format_info

    print(format_info(collect_info()))
    return 0


def _cmd_train_charlm(args: argparse.Namespace) -> int:
    from .lab.clipspec import parse_clip

    parse_clip(args.clip)  # reject a malformed --clip before any work
    from .lab.charlm import CharLMConfig, train_charlm

    cfg = CharLMConfig(text=args.text, clip=args.clip, steps=args.steps, hidden=args.hidden,
                       layers=args.layers, seq_len=args.seq_len, batch_size=args.batch_size,
                       lr=args.lr, optimizer=args.optimizer, seed=args.seed,
                       max_chars=args.max_chars)
    train_charlm(cfg, out=args.out, quiet=args.quiet)
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from .lab.charlm import sample_checkpoint

    text = sample_checkpoint(args.checkpoint, n_chars=args.length, prompt=args.prompt,
                             temperature=args.temperature, seed=args.seed)
    print(text)
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from .lab.reproduce import reproduce_pascanu

    split = lambda v, f=str: [f(x) for x in v.split(",")] if v else None  # noqa: E731
    reproduce_pascanu(args.out, args.budget, tasks=split(args.tasks), lengths=split(args.lengths, int),
                      methods=split(args.methods), seeds=args.seeds, max_steps=args.max_steps,
                      max_length=args.max_length,
                      workers=args.workers, scheduler=args.scheduler, dask_local=args.dask_local,
                      quiet=args.quiet, run=not args.report_only)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    from . import __version__

    p = argparse.ArgumentParser(
        prog="tinyclipnn",
        description="See exploding gradients and what gradient clipping does about them.")
    p.add_argument("--version", action="version", version=f"tinyclipnn {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser("demo", help="run a demo (default: the flagship 'exploding')",
                       description="Run a demo; writes metrics.csv/json, summary.json and PNG "
                                   "plots into --out.")
    d.add_argument("name", nargs="?", help="demo name (see --list)")
    d.add_argument("--list", action="store_true", help="list the demos and exit")
    d.add_argument("--quick", action="store_true", help="small, fast version (<= 30 s)")
    d.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    d.add_argument("--out", default=None, help="output folder (default: runs/NAME)")
    d.add_argument("--quiet", action="store_true", help="no progress lines")
    d.set_defaults(func=_cmd_demo)

    i = sub.add_parser("info", help="versions, backends, threads, kernel cache")
    i.set_defaults(func=_cmd_info)

    t = sub.add_parser("train-charlm", help="train a character LSTM on a text file",
                       description="Train a character-level LSTM language model and save a "
                                   "checkpoint (model.npz) plus metrics into --out.")
    t.add_argument("--text", default=None,
                   help="UTF-8 text file (default: a corpus built from the Python standard "
                        "library's source files; no download)")
    t.add_argument("--clip", default="norm:1.0", help=CLIP_HELP)
    t.add_argument("--steps", type=int, default=500, help="training steps (default: 500)")
    t.add_argument("--hidden", type=int, default=128, help="LSTM hidden size (default: 128)")
    t.add_argument("--layers", type=int, default=1, help="LSTM layers (default: 1)")
    t.add_argument("--seq-len", type=int, default=64, help="BPTT length (default: 64)")
    t.add_argument("--batch-size", type=int, default=32, help="batch size (default: 32)")
    t.add_argument("--lr", type=float, default=2e-3, help="learning rate (default: 2e-3)")
    t.add_argument("--optimizer", choices=("adam", "sgd"), default="adam",
                   help="optimizer (default: adam)")
    t.add_argument("--max-chars", type=int, default=1_000_000,
                   help="use at most this many characters of text (default: 1e6)")
    t.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    t.add_argument("--out", default="runs/charlm", help="output folder (default: runs/charlm)")
    t.add_argument("--quiet", action="store_true", help="no progress lines")
    t.set_defaults(func=_cmd_train_charlm)

    s = sub.add_parser("sample", help="generate text from a train-charlm checkpoint")
    s.add_argument("checkpoint", help="checkpoint file written by train-charlm (model.npz)")
    s.add_argument("--length", type=int, default=400, help="characters to generate")
    s.add_argument("--prompt", default="", help="text to start from")
    s.add_argument("--temperature", type=float, default=0.8, help="sampling temperature")
    s.add_argument("--seed", type=int, default=0, help="random seed")
    s.set_defaults(func=_cmd_sample)
    r = sub.add_parser("reproduce", help="reproduce a paper's experiment (pascanu: Fig. 7)",
                       description="Pascanu et al. (2013) pathological tasks x lengths x methods "
                                   "(sgd, sgd-c, sgd-cr, sgd-cr-bptt) x seeds as a resumable "
                                   "sweep: relaunch the same command to continue.")
    r.add_argument("experiment", choices=["pascanu"])
    r.add_argument("--budget", choices=["quick", "session", "paper"], default="quick",
                   help="quick: minutes; session: 10k steps/run; paper: their caps (default: quick)")
    r.add_argument("--tasks", help="comma-separated tasks (default: from --budget)")
    r.add_argument("--lengths", help="comma-separated sequence lengths (default: from --budget)")
    r.add_argument("--methods", help="comma-separated methods (default: all four)")
    r.add_argument("--seeds", type=int, help="runs per task, length and method")
    r.add_argument("--max-steps", type=int, help="step cap per run (default: from --budget)")
    r.add_argument("--max-length", type=int,
                   help="train on lengths drawn from [T, MAX_LENGTH) (their code's sampling)")
    r.add_argument("--workers", type=int, help="local worker processes (default: one per core)")
    r.add_argument("--scheduler", help="Dask scheduler address tcp://HOST:PORT")
    r.add_argument("--dask-local", type=int, metavar="N", help="start a Dask LocalCluster of N")
    r.add_argument("--out", default="runs/pascanu", help="output folder (default: runs/pascanu)")
    r.add_argument("--quiet", action="store_true", help="no progress line")
    r.add_argument("--report-only", action="store_true",
                   help="run nothing: tables, summary and figure from the runs finished so far")
    r.set_defaults(func=_cmd_reproduce)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tinyclipnn`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, ImportError) as e:
        print(f"tinyclipnn {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
