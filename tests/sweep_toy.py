"""A deterministic toy cell for the sweep tests (importable by spawned and Dask workers)."""

import os
import time


def expected(seed: int, steps: int) -> int:
    acc = seed
    for step in range(steps):
        acc = (acc * 31 + step) % 1_000_003
    return acc


def toy_cell(config: dict, ckpt) -> dict:
    """Iterate a hash ``steps`` times, sleeping ``sleep`` s a step; checkpoints when due."""
    (ckpt.folder / "pid").write_text(str(os.getpid()))
    state = ckpt.load() or {"step": 0, "acc": config["seed"]}
    start = state["step"]
    for step in range(start, config["steps"]):
        state = {"step": step + 1, "acc": (state["acc"] * 31 + step) % 1_000_003}
        time.sleep(config.get("sleep", 0.0))
        if ckpt.due(state["step"]):
            ckpt.save(state)
        ckpt.progress(state["step"], config["steps"])
    if config.get("fail"):
        raise RuntimeError("this cell always fails")
    return {"acc": state["acc"], "resumed_from": start}
