"""A character corpus built at run time from text already on the machine, and its vocabulary.

No download: by default the corpus is the Python standard library's own ``.py`` sources, read in
sorted order until ``max_chars`` characters are collected, so every machine with the same Python
gets the same corpus.
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

import numpy as np

__all__ = ["CharVocab", "stdlib_corpus", "load_text", "random_windows", "train_val_split"]


_SKIP_DIRS = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"}


def _source_files(base: Path):
    """``.py`` files under ``base`` in a deterministic order, pruning test and package dirs."""
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            if name.endswith(".py"):
                yield Path(dirpath) / name


def stdlib_corpus(max_chars: int = 1_000_000, root: str | os.PathLike | None = None) -> str:
    """Concatenate the Python standard library's ``.py`` files (sorted, tests skipped) up to
    ``max_chars`` characters.  ``root`` overrides the directory searched."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    base = Path(root) if root is not None else Path(sysconfig.get_paths()["stdlib"])
    if not base.is_dir():
        raise FileNotFoundError(f"no directory {base} to build the corpus from")
    parts: list[str] = []
    total = 0
    for path in _source_files(base):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        parts.append(text)
        total += len(text)
        if total >= max_chars:
            break
    if not parts:
        raise FileNotFoundError(f"no readable .py files under {base}")
    return "".join(parts)[:max_chars]


def load_text(path: str | os.PathLike | None = None, max_chars: int = 1_000_000) -> str:
    """Read a UTF-8 text file (undecodable bytes replaced), or the stdlib corpus if ``path`` is
    None."""
    if path is None:
        return stdlib_corpus(max_chars)
    text = Path(path).read_text(encoding="utf-8", errors="replace")[:max_chars]
    if not text:
        raise ValueError(f"text file {path} is empty")
    return text


class CharVocab:
    """Character ↔ integer id mapping (ids follow sorted character order)."""

    def __init__(self, chars: str | list[str]) -> None:
        self.itos: list[str] = sorted(set(chars))
        if not self.itos:
            raise ValueError("a vocabulary needs at least one character")
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        """Vocabulary of every character occurring in ``text``."""
        return cls(text)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> np.ndarray:
        """Ids (int64) of ``text``; raises ``ValueError`` on characters outside the vocabulary."""
        try:
            return np.fromiter((self.stoi[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as e:
            raise ValueError(f"character {e.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids: np.ndarray | list[int]) -> str:
        """Text of a sequence of ids."""
        return "".join(self.itos[int(i)] for i in np.asarray(ids).ravel())

    def to_array(self) -> np.ndarray:
        """The vocabulary as an int32 array of code points (for a checkpoint)."""
        return np.array([ord(c) for c in self.itos], dtype=np.int32)

    @classmethod
    def from_array(cls, codes: np.ndarray) -> CharVocab:
        """Inverse of :meth:`to_array`."""
        return cls([chr(int(c)) for c in np.asarray(codes).ravel()])


def train_val_split(ids: np.ndarray, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Split an id stream into a leading training part and a trailing validation part."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    cut = int(len(ids) * (1.0 - val_fraction))
    return ids[:cut], ids[cut:]


def random_windows(
    ids: np.ndarray, batch_size: int, seq_len: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``batch_size`` random windows of the id stream: inputs and next-character targets, both
    ``(seq_len, batch_size)`` int64 (sequence-first)."""
    if len(ids) < seq_len + 2:
        raise ValueError(f"text of {len(ids)} characters is too short for seq_len={seq_len}")
    starts = rng.integers(0, len(ids) - seq_len - 1, size=batch_size)
    idx = starts[None, :] + np.arange(seq_len + 1)[:, None]
    win = np.asarray(ids)[idx]
    return win[:-1], win[1:]
