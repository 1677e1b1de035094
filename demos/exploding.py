"""Demo 'exploding' — see `tinyclipnn demo --list`.  Same as `tinyclipnn demo exploding [--quick] [--seed N]
[--out DIR]`; the implementation lives in tinyclipnn/lab/demos/exploding.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run against this checkout

from tinyclipnn.cli import demo_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(demo_main("exploding"))
