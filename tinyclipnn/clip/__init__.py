"""Gradient clipping: functions, stateful clippers, a gradient buffer and a monitor.

Every function takes ``parameters`` as one array / object with ``.grad``, an iterable of them
(entries whose ``.grad`` is None are skipped) or a ``GradBuffer``, and ``backend="auto" |
"numpy" | "numba" | "cuda"``. ``"auto"`` uses the Numba CPU kernels (compiled on first use,
cached on disk), or numpy with one warning if numba cannot be imported.
"""

from ..kernels.cuda.scalar import DeviceScalar
from ._backend import BACKENDS, get_backend
from ._checks import NONFINITE_POLICIES, NonFiniteNormError
from ._device import available_backends, cuda_unavailable_reason
from .adaptive import AutoClip, ZClip
from .agc import adaptive_clip_grad_
from .buffer import GradBuffer
from .clippers import (
    AdaptiveGradClip,
    ClipGradNorm,
    ClipGradNormPerTensor,
    ClipGradValue,
    Clipper,
)
from .monitor import GradMonitor
from .norm import (
    clip_grad_norm_,
    clip_grad_norm_per_tensor_,
    clip_grads_with_norm_,
    get_total_norm,
)
from .per_sample import PerSampleResult, clip_per_sample_
from .value import clip_grad_value_

__all__ = [
    "BACKENDS",
    "NONFINITE_POLICIES",
    "AdaptiveGradClip",
    "AutoClip",
    "DeviceScalar",
    "ClipGradNorm",
    "ClipGradNormPerTensor",
    "ClipGradValue",
    "Clipper",
    "GradBuffer",
    "GradMonitor",
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
