"""Read the first ``max_chars`` characters of a user's text file, streaming, and refuse what is
not text.

The file is decoded incrementally (``TextIOWrapper.read(n)``), so memory stays at about
``max_chars`` characters whatever the file's size (a 600 MiB file, ``/dev/zero``). Undecodable
bytes are an error that suggests ``--encoding`` instead of silently becoming U+FFFD, and a file
with NUL bytes or mostly control characters is refused as binary.
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path

__all__ = ["read_text_file", "check_encoding"]

_CONTROL = {chr(c) for c in range(32)} - set("\t\n\r\f\v\x1b")
MAX_CONTROL_FRACTION = 0.01  # more control characters than this: not text


def check_encoding(encoding: str) -> str:
    """The codec's canonical name, or ValueError naming ``--encoding``."""
    try:
        return codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise ValueError(f"--encoding {encoding!r} is not a known text encoding; use e.g. "
                         "utf-8, latin-1 or cp1252") from None


def read_text_file(path: str | os.PathLike, max_chars: int, encoding: str = "utf-8") -> str:
    """At most ``max_chars`` characters of ``path`` decoded with ``encoding`` (newlines
    normalised to ``\\n``). Raises ``ValueError`` (naming ``--text``) for a folder, a binary or
    undecodable file, or an empty one, and ``FileNotFoundError`` for a missing file."""
    check_encoding(encoding)
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"--text {path} is a folder; give a text file")
    if not p.exists():
        raise FileNotFoundError(f"--text {path}: no such file")
    try:
        with open(p, encoding=encoding, errors="strict") as f:
            text = f.read(max_chars)
    except UnicodeDecodeError as e:
        raise ValueError(f"--text {path} is not {encoding} text (undecodable byte "
                         f"0x{e.object[e.start]:02x}); if it is text in another encoding, pass "
                         "it, e.g. --encoding latin-1") from None
    except OSError as e:
        raise ValueError(f"--text {path} cannot be read ({e.strerror or e})") from None
    if "\x00" in text or sum(map(text.count, _CONTROL)) > MAX_CONTROL_FRACTION * len(text):
        raise ValueError(f"--text {path} looks like a binary file (NUL or control bytes), "
                         "not text; give a text file")
    if not text:
        raise ValueError(f"--text {path} is empty")
    return text
