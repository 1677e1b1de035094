"""Training checkpoints you can resume bit for bit: model, optimizer, clipper (any object with
``state_dict`` / ``load_state_dict``: AutoClip, ZClip, a loss scaler), random generators, step
and config, in one ``tinyclipnn.save`` file.

A checkpoint is a dict::

    {"kind": KIND, "version": 2, "step": int, "config": {...}, "rng": {name: json},
     "state": {name: obj.state_dict()}, **extra}

Random generators are stored as the JSON of ``bit_generator.state`` (PCG64's 128-bit integers do
not fit an array). `restore` checks everything it can before it changes anything: that every
saved object is present, each generator's algorithm matches, and the step is an integer.

`write_with_metrics` writes a run's metrics and then its checkpoint as one unit that Ctrl-C
cannot split (`lab.interrupt.shielded`): the metrics never lag behind the checkpoint, so a
resume, which keeps the metrics rows of the steps before the checkpoint's step, has no gap.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import load, save
from .interrupt import shielded

__all__ = ["KIND", "VERSION", "capture", "restore", "write", "write_with_metrics", "read"]

KIND = "tinyclipnn.training"
VERSION = 2


def capture(step: int, config: Mapping[str, Any], objects: Mapping[str, Any],
            rngs: Mapping[str, np.random.Generator], **extra: Any) -> dict[str, Any]:
    """The checkpoint dict of a run after ``step`` steps (see the module docstring)."""
    return {"kind": KIND, "version": VERSION, "step": int(step), "config": dict(config),
            "rng": {k: json.dumps(g.bit_generator.state) for k, g in rngs.items()},
            "state": {k: _state_of(o) for k, o in objects.items()}, **extra}


def _state_of(obj: Any) -> Any:
    sd = getattr(obj, "state_dict", None)
    return sd() if callable(sd) else {}


def restore(ckpt: Mapping[str, Any], objects: Mapping[str, Any],
            rngs: Mapping[str, np.random.Generator], where: str = "checkpoint") -> int:
    """Load ``ckpt`` into ``objects`` and ``rngs``; returns its step. ``ValueError`` names what
    is missing or wrong, and leaves every object and generator as it was: the checkpoint's
    layout and generators are checked first, each ``load_state_dict`` checks its own state
    before changing anything, and the objects loaded before a refused one are rolled back."""
    if ckpt.get("kind") != KIND or not isinstance(ckpt.get("state"), Mapping):
        raise ValueError(f"{where} holds no training state (optimizer, clipper, random "
                         "generators): it was written by an older tinyclipnn or is not a "
                         "training checkpoint, so training cannot resume from it")
    step = ckpt.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"{where}: step must be an integer >= 0, got {step!r}")
    states = ckpt["state"]
    missing = [k for k in objects if k not in states] + [k for k in rngs if k not in
                                                         ckpt.get("rng", {})]
    if missing:
        raise ValueError(f"{where} has no saved state for {', '.join(missing)}")
    rng_states = {k: _rng_state(ckpt["rng"][k], g, f"{where}: generator {k!r}")
                  for k, g in rngs.items()}
    loaded: list[tuple[Any, Any]] = []  # (object, its state before) for the rollback
    try:
        for k, obj in objects.items():
            load = getattr(obj, "load_state_dict", None)
            if callable(load):
                before = copy.deepcopy(obj.state_dict())
                try:
                    load(states[k])
                except (KeyError, TypeError, IndexError) as e:
                    raise ValueError(f"{where}: the saved {k} state does not fit: {e}") from None
                loaded.append((obj, before))
    except BaseException:
        for obj, before in reversed(loaded):  # each load checks before it changes anything,
            obj.load_state_dict(before)  # so only the objects loaded before the bad one moved
        raise
    for k, g in rngs.items():
        g.bit_generator.state = rng_states[k]
    return step


def _rng_state(text: Any, gen: np.random.Generator, where: str) -> dict:
    try:
        state = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        state = None
    algo = type(gen.bit_generator).__name__
    if not isinstance(state, dict) or state.get("bit_generator") != algo:
        raise ValueError(f"{where} is not a saved {algo} state")
    return state


def write(path: str | Path, ckpt: Mapping[str, Any]) -> None:
    """Save atomically (``tinyclipnn.save``)."""
    save(dict(ckpt), path)


def write_with_metrics(path: str | Path, ckpt: Mapping[str, Any], recorder: Any = None,
                       metrics_dir: str | Path | None = None) -> None:
    """``recorder.save(metrics_dir)`` (default: the checkpoint's folder), then `write`; no
    KeyboardInterrupt in between (see the module docstring)."""
    with shielded():
        if recorder is not None:
            recorder.save(metrics_dir if metrics_dir is not None else Path(path).parent)
        write(path, ckpt)


def read(path: str | Path) -> Any:
    """``tinyclipnn.load`` with a ``ValueError`` for anything that is not a dict."""
    state = load(path)
    if not isinstance(state, dict):
        raise ValueError(f"{path} is not a tinyclipnn checkpoint")
    return state
