"""`atomic_write`: a file is either its old content or its new one, never half of either.

The bytes go to a temporary file beside the target, are flushed to disk, and the temporary file
is renamed over the target (``os.replace``, atomic on POSIX and Windows). On any exception,
KeyboardInterrupt included, the temporary file is removed and the target left as it was.
"""

from __future__ import annotations

import os
from pathlib import Path


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (creating its folder if needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
