"""Turn one gradient object into an array the kernels can work on in place, without copying.

Accepted gradients: numpy arrays (float16/32/64, ``ml_dtypes.bfloat16``), PyTorch CPU tensors
(any float dtype incl. bfloat16; ``torch`` is never imported here, tensors are recognised by
their type), objects exporting ``__dlpack__`` or ``__array_interface__``, and device arrays
(``__cuda_array_interface__``: numba, CuPy, PyTorch CUDA; or numba's simulator arrays).
bfloat16 becomes its ``uint16`` bit pattern (``BF16_BITS``), the form the kernels take.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..kernels.halfbits_numpy import BF16_BITS

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
NATIVE = (F16, F32, F64)
ACCEPTED = ("numpy arrays, PyTorch CPU/CUDA tensors, objects with __dlpack__, "
            "__array_interface__ or __cuda_array_interface__")
DTYPES = "float16, bfloat16, float32 or float64"


def is_device_array(obj: Any) -> bool:
    """True for objects in device memory (``__cuda_array_interface__``, or a device array of
    numba's CUDA simulator)."""
    return hasattr(obj, "__cuda_array_interface__") or type(obj).__name__ == "FakeCUDAArray"


def is_torch_tensor(obj: Any) -> bool:
    return type(obj).__module__.startswith("torch") and hasattr(obj, "requires_grad")


def is_bf16(dtype: np.dtype) -> bool:
    return dtype.kind == "V" and dtype.name == "bfloat16"  # ml_dtypes.bfloat16


def kernel_dtype(dtype: np.dtype) -> np.dtype | None:
    """The dtype the kernels see for a numpy dtype (bfloat16 -> its uint16 bits), or None."""
    if dtype in NATIVE and dtype.isnative:
        return dtype
    if is_bf16(dtype):
        return BF16_BITS
    return None


def describe(g: Any) -> str:
    shape = tuple(getattr(g, "shape", ()))
    return f"{type(g).__name__} of dtype {getattr(g, 'dtype', '?')} and shape {shape}"


def _from_torch(t: Any, name: str) -> np.ndarray:
    t = t.detach()
    if str(t.dtype) == "torch.bfloat16":
        import torch  # already imported: t is a torch tensor

        return t.view(torch.int16).numpy().view(BF16_BITS)
    try:
        return t.numpy()
    except (TypeError, RuntimeError) as exc:
        raise TypeError(f"{name}: cannot clip a {describe(t)} in place ({exc}); gradients must "
                        f"be {DTYPES}") from None


def host_array(g: Any, name: str) -> tuple[np.ndarray, bool]:
    """(numpy array sharing the memory of host gradient ``g``, whether it holds bfloat16 bits
    as uint16); TypeError if impossible."""
    if type(g) is np.ndarray:
        return g, False
    if isinstance(g, np.ndarray):
        return g.view(np.ndarray), False
    if is_torch_tensor(g):
        if getattr(g, "is_cuda", False) or str(getattr(g, "device", "cpu")) != "cpu":
            raise TypeError(f"{name}: a PyTorch tensor on {g.device} cannot be clipped here; "
                            "CPU and CUDA tensors are supported")
        a = _from_torch(g, name)
        return a, a.dtype == BF16_BITS
    return _exported(g, name), False


def _exported(g: Any, name: str) -> np.ndarray:
    if hasattr(g, "__array_interface__"):
        return np.asarray(g)
    if hasattr(g, "__dlpack__"):
        try:
            return np.from_dlpack(g)
        except (TypeError, RuntimeError, BufferError, ValueError) as exc:
            raise TypeError(f"{name}: cannot view a {type(g).__name__} in place through DLPack "
                            f"({exc}); accepted: {ACCEPTED}") from None
    raise TypeError(f"{name}: cannot clip a {type(g).__name__} in place; accepted: {ACCEPTED}")


def like(original: Any, result: np.ndarray) -> Any:
    """A new kernel-level ``result`` (bfloat16 as uint16 bits) in the kind of ``original``:
    a PyTorch tensor for a PyTorch input, an ``ml_dtypes.bfloat16`` array for one, else as is."""
    if is_torch_tensor(original):
        import torch

        if result.dtype == BF16_BITS:
            return torch.from_numpy(result.view(np.int16)).view(torch.bfloat16)
        return torch.from_numpy(result)
    d = getattr(original, "dtype", None)
    if result.dtype == BF16_BITS and isinstance(d, np.dtype) and is_bf16(d):
        return result.view(d)
    return result
