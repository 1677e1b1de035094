"""Make numba's CUDA simulator fast and thread-safe for the ``cuda_sim_*`` cases.

The simulator runs each CUDA thread as a Python thread and polls them; a short GIL switch
interval makes that ~8x faster, but exposes two races in the simulator itself (not in the
kernels; neither exists on a GPU), fixed here:

* ``cuda.shared.array`` is created lazily on the first call from any thread, without a lock,
  so two threads of a block could get different arrays;
* every call of a device function swaps ``cuda`` in its module's globals for the fake module
  and swaps it back on return, so a thread leaving a shared device function (``_reduce``)
  could restore the real module while another thread is still inside it. The swap is made
  reference-counted per globals dict.
"""

import sys
import threading
import traceback
from contextlib import contextmanager

import numpy as np
from numba.core import types
from numba.cuda.simulator import kernel, kernelapi
from numba.np import numpy_support


def setup_simulator() -> None:
    """Apply both adjustments (idempotent)."""
    sys.setswitchinterval(1e-5)
    shared = kernelapi.FakeCUDAShared
    if getattr(shared, "_tinyclipnn_locked", False):
        return
    lock = threading.Lock()
    original = shared.array

    def array(self, shape, dtype):
        if shape == 0:  # dynamic shared memory: no lazy allocation
            return original(self, shape, dtype)
        if isinstance(dtype, types.Type):
            dtype = numpy_support.as_dtype(dtype)
        caller = traceback.extract_stack(sys._getframe(1), limit=1)[-1][0:2]  # as numba keys it
        with lock:
            res = self._allocations.get(caller)
            if res is None:
                res = self._allocations[caller] = np.empty(shape, dtype)
        return res

    shared.array = array
    shared._tinyclipnn_locked = True
    kernel.swapped_cuda_module = _counted_swap


_swaps: dict[int, tuple[int, dict]] = {}
_swap_lock = threading.Lock()


@contextmanager
def _counted_swap(fn, fake):
    from numba import cuda

    g = fn.__globals__
    with _swap_lock:
        n, orig = _swaps.get(id(g), (0, {}))
        if n == 0:
            orig = {k: v for k, v in g.items() if v is cuda}
            g.update(dict.fromkeys(orig, fake))
        _swaps[id(g)] = (n + 1, orig)
    try:
        yield
    finally:
        with _swap_lock:
            n, orig = _swaps[id(g)]
            if n == 1:
                g.update(orig)
                del _swaps[id(g)]
            else:
                _swaps[id(g)] = (n - 1, orig)
