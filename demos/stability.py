"""Demo 'stability' — see `tinyclipnn demo --list`.  Same as `tinyclipnn demo stability [--quick] [--seed N]
[--out DIR]`; the implementation lives in tinyclipnn/lab/demos/stability.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run against this checkout

from tinyclipnn.cli import demo_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(demo_main("stability"))
