"""Entry point shared by the thin ``demos/<name>.py`` scripts."""

from __future__ import annotations

from collections.abc import Sequence


def demo_main(name: str, argv: Sequence[str] | None = None) -> int:
    """Parse ``[--quick] [--seed N] [--out DIR] [--quiet]`` and run demo ``name`` (the same as
    ``tinyclipnn demo NAME ...``)."""
    import sys

    from ..cli import main

    args = list(sys.argv[1:] if argv is None else argv)
    return main(["demo", name, *args])
