"""Sweep scenarios run in a subprocess (under a timeout) by tests/test_sweep.py.

``python sweep_scenarios.py SCENARIO OUT``: prints one JSON line with the sweep's rows.
kill-local / kill-dask: a watcher kills the worker running the first cell once that cell has
saved a checkpoint; the sweep must finish anyway, the killed cell resuming from its checkpoint.
interrupt: 4 cells of 40 x 30 ms on 2 workers, odd seeds catching Ctrl-C in their loop (the test
sends the SIGINT); exits 130 when the sweep was interrupted.
deaf: 2 cells of 400 x 30 ms that ignore SIGINT, grace 1 s: their workers must be killed.
"""

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from sweep_toy import toy_cell

from tinyclipnn.lab.sweep import run_sweep


def _killer(out: Path, key_prefix: str, killed: list) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for d in (out / "cells").glob(key_prefix + "*"):
            if (d / "checkpoint.pkl").exists() and (d / "pid").exists():
                os.kill(int((d / "pid").read_text()), signal.SIGKILL)
                killed.append(d.name)
                return
        time.sleep(0.05)


def main() -> None:
    scenario, out = sys.argv[1], Path(sys.argv[2])
    if scenario in ("interrupt", "deaf"):
        deaf = scenario == "deaf"
        configs = [{"seed": s, "steps": 400 if deaf else 40, "sleep": 0.03,
                    **({"ignore_sigint": True} if deaf else {"catch": bool(s % 2)})}
                   for s in range(2 if deaf else 4)]
        res = run_sweep(toy_cell, configs, out, checkpoint_every=5, quiet=True, workers=2,
                        grace=1.0)
        print(json.dumps({"rows": res.rows, "skipped": res.skipped}))
        sys.exit(130 if res.interrupted else 0)
    slow = scenario.startswith("kill")
    configs = [{"seed": s, "steps": 40 if slow else 12, "sleep": 0.05 if slow else 0.0}
               for s in range(4)]
    if scenario == "fail":
        configs.append({"seed": 9, "steps": 3, "fail": True})
    kw = {"dask_local": 2} if scenario == "kill-dask" else {"workers": 2}
    killed: list = []
    if slow:
        threading.Thread(target=_killer, args=(out, "seed=0", killed), daemon=True).start()
    res = run_sweep(toy_cell, configs, out, checkpoint_every=5, quiet=True, **kw)
    print(json.dumps({"rows": res.rows, "killed": killed, "skipped": res.skipped}))


if __name__ == "__main__":
    main()
