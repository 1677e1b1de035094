"""Gradient clipping: functions, stateful clippers, loss scaling, a gradient buffer, a monitor.

Every function takes ``parameters`` as one array / tensor / object with ``.grad``, an iterable
of them (entries whose ``.grad`` is None are skipped) or a ``GradBuffer``, and ``backend="auto"
| "numpy" | "numba" | "cuda"``. ``"auto"`` uses the Numba CPU kernels (compiled on first use,
cached on disk), or numpy with one warning if they cannot be loaded; device arrays use cuda.
Gradients may be numpy arrays, PyTorch CPU or CUDA tensors, DLPack / ``__array_interface__``
exporters (all clipped in place, zero-copy), in float16, bfloat16, float32 or float64.
"""

from ._backends import (
    BACKENDS,
    SHARD_ALIGN,
    DeviceScalar,
    available_backends,
    cuda_unavailable_reason,
    get_backend,
)
from ._checks import NONFINITE_POLICIES
from ._pipeline import NonFiniteNormError
from .adaptive import AutoClip, ZClip
from .agc import AdaptiveGradClip, adaptive_clip_grad_
from .buffer import GradBuffer
from .clipper import Clipper
from .monitor import GradMonitor
from .norm import (
    ClipGradNorm,
    ClipGradNormPerTensor,
    clip_grad_norm_,
    clip_grad_norm_per_tensor_,
    clip_grads_with_norm_,
    get_total_norm,
)
from .per_sample import PerSampleResult, clip_per_sample_
from .report import ClipReport
from .scaler import LossScaler
from .value import ClipGradValue, clip_grad_value_

#: The clipping methods by their short name (``--clip NAME:ARGS`` in the lab): each a
#: ``Clipper`` class whose constructor's leading arguments are the method's settings.
CLIP_METHODS: dict[str, type[Clipper]] = {
    "value": ClipGradValue,
    "norm": ClipGradNorm,
    "pertensor": ClipGradNormPerTensor,
    "agc": AdaptiveGradClip,
    "autoclip": AutoClip,
    "zclip": ZClip,
}

__all__ = [
    "BACKENDS",
    "CLIP_METHODS",
    "NONFINITE_POLICIES",
    "SHARD_ALIGN",
    "AdaptiveGradClip",
    "AutoClip",
    "ClipGradNorm",
    "ClipGradNormPerTensor",
    "ClipGradValue",
    "ClipReport",
    "Clipper",
    "DeviceScalar",
    "GradBuffer",
    "GradMonitor",
    "LossScaler",
    "NonFiniteNormError",
    "PerSampleResult",
    "ZClip",
    "adaptive_clip_grad_",
    "available_backends",
    "clip_grad_norm_",
    "clip_grad_norm_per_tensor_",
    "clip_grad_value_",
    "clip_grads_with_norm_",
    "clip_per_sample_",
    "cuda_unavailable_reason",
    "get_backend",
    "get_total_norm",
]
