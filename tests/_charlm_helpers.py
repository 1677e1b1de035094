"""Shared by the train-charlm / sample tests: a small text, a tiny model's options, the
checkout's root (for subprocesses, which must import this checkout's package)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEXT = "the quick brown fox jumps over the lazy dog; pack my box with five dozen jugs. " * 30
SMALL = ["--hidden", "8", "--seq-len", "8", "--batch-size", "2", "--quiet"]


def write_text(folder: Path) -> Path:
    """``TEXT`` in ``folder/t.txt``."""
    p = folder / "t.txt"
    p.write_text(TEXT)
    return p
