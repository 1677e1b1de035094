"""Deterministic toy cells for the sweep tests (importable by spawned and Dask workers)."""

import os
import signal
import time


def expected(seed: int, steps: int) -> int:
    acc = seed
    for step in range(steps):
        acc = (acc * 31 + step) % 1_000_003
    return acc


def toy_cell(config: dict, ckpt) -> dict:
    """Iterate a hash ``steps`` times, sleeping ``sleep`` s a step; checkpoints when due.
    ``catch=True``: the loop catches Ctrl-C and returns what it has, as a training loop that
    "stops cleanly" does (what a sweep must never take for a finished run).
    ``ignore_sigint=True``: a cell deaf to Ctrl-C (its worker must be killed)."""
    (ckpt.folder / "pid").write_text(str(os.getpid()))
    if config.get("ignore_sigint"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    state = ckpt.load() or {"step": 0, "acc": config["seed"]}
    start = state["step"]
    try:
        for step in range(start, config["steps"]):
            state = {"step": step + 1, "acc": (state["acc"] * 31 + step) % 1_000_003}
            time.sleep(config.get("sleep", 0.0))
            if ckpt.due(state["step"]):
                ckpt.save(state)
            ckpt.progress(state["step"], config["steps"])
    except KeyboardInterrupt:
        if not config.get("catch"):
            raise
    if config.get("fail"):
        raise RuntimeError("this cell always fails")
    return {"acc": state["acc"], "resumed_from": start, "steps_run": state["step"]}


def counting_cell(config: dict, ckpt) -> dict:
    """Appends a line to ``<sweep>/calls.log`` each time it runs; returns ``2 * x``."""
    with open(ckpt.folder.parent.parent / "calls.log", "a") as f:
        f.write(f"{config['x']}\n")
    return {"y": 2 * config["x"]}


def reporting_cell(config: dict, ckpt) -> dict:
    """Says itself that it stopped early (``interrupted``), or runs a `run_loop` that a
    KeyboardInterrupt cuts short (``cut_loop``), or finishes."""
    from tinyclipnn.lab.loop import run_loop

    if config.get("cut_loop"):
        def step(k):
            if k == 2:
                raise KeyboardInterrupt
            return {"loss": 1.0}

        res = run_loop(step, 5, quiet=True)
        return {"steps_run": res.steps}
    return {"x": config["x"], "interrupted": bool(config.get("interrupted"))}
