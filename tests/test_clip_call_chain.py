"""A ``clip_grad_norm_`` call on a list of numpy arrays is easy to follow: traced with
``sys.setprofile``, it passes through at most four modules of the clip layer and never
re-enters a module it has returned from (first call on new arrays, and a warm second call).

Counted: Python frames of ``tinyclipnn/``. The argument rules of ``tinyclipnn/_validate.py``
are left out (shared helpers, as the call-trace pages hide them), and a call into
``tinyclipnn/kernels/`` is one stop of the module it enters (what runs below it is the
kernels'). The kernel stops themselves (the gather cache's look-up and store, the segment
table, the fused kernel) are the kernels layer's and not held to the rule."""

import os
import sys

import numpy as np

import tinyclipnn
from tinyclipnn.clip import clip_grad_norm_

ROOT = os.path.dirname(tinyclipnn.__file__)
KERNELS = os.path.join(ROOT, "kernels") + os.sep
HIDDEN = os.path.join(ROOT, "_validate.py")


def _module(filename):
    rel = os.path.relpath(filename, os.path.dirname(ROOT))
    return rel[:-3].replace(os.sep, ".")


def trace(fn):
    """(modules entered, in order: one per call that crossed into another module; modules
    entered again after every call into them had returned)."""
    path, again, left = [], [], set()
    stack = []  # the counted module of each open frame (a hidden frame: its caller's)

    def prof(frame, event, arg):
        if event == "call":
            name = frame.f_code.co_filename
            parent = stack[-1] if stack else None
            below = parent is not None and (parent.startswith("tinyclipnn.kernels")
                                            or name == HIDDEN)
            if below or not name.startswith(ROOT):
                stack.append(parent)
                return
            module = _module(name)
            if module != parent:
                path.append(module)
                if module in left and module not in stack:
                    again.append(module)
            stack.append(module)
        elif event == "return" and stack:
            module = stack.pop()
            if module is not None and module not in stack:
                left.add(module)

    sys.setprofile(prof)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return path, again


def test_clip_grad_norm_is_a_straight_chain():
    rng = np.random.default_rng(0)
    clip_grad_norm_([np.ones(3, np.float32)], 1.0)  # kernels loaded (a cold process)
    grads = [rng.standard_normal((64, 64)).astype(np.float32) for _ in range(4)]
    for _ in range(2):  # new arrays, then the same ones again (the gather cache)
        path, again = trace(lambda: clip_grad_norm_(grads, 1.0))
        clip_layer = [m for m in path if not m.startswith("tinyclipnn.kernels")]
        assert clip_layer[0] == "tinyclipnn.clip.norm"
        assert len(set(clip_layer)) <= 4, path
        assert [m for m in again if not m.startswith("tinyclipnn.kernels")] == [], path
