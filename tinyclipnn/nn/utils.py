"""``tinyclipnn.nn.utils``: PyTorch's ``torch.nn.utils`` names.

``clip_grad_norm_``, ``clip_grad_value_``, ``get_total_norm`` and ``clip_grads_with_norm_`` are
the very functions of `tinyclipnn.clip` (``nn.utils.clip_grad_norm_ is clip.clip_grad_norm_``),
loaded on first access so that ``import tinyclipnn`` stays cheap and ``nn`` does not import the
higher ``clip`` layer at import time. They take PyTorch's full signatures (``foreach=`` is
accepted and means nothing here: every backend already clips all gradients in one pass) and
return norms as ``numpy.float64`` (``float(n)`` and ``n.item()`` both work).
``parameters_to_vector`` / ``vector_to_parameters`` flatten parameters to one tensor and back.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

import numpy as np

from .._validate import Kind, check
from ..autograd import Tensor
from ..autograd.api import concat

_FROM_CLIP = ("clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm")


def __getattr__(name: str) -> Any:
    if name in _FROM_CLIP:
        value = getattr(importlib.import_module("tinyclipnn.clip"), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'tinyclipnn.nn.utils' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


_TENSOR = Kind(Tensor, "a Tensor")


def _tensors(parameters: Any, fn: str) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        raise TypeError(f"{fn}(): parameters must be an iterable of Tensors (e.g. "
                        f"model.parameters()), got a single Tensor")
    return [check(_TENSOR, p, f"parameters[{i}]", f"{fn}()") for i, p in enumerate(parameters)]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and joined into one 1-D tensor (a copy; differentiable), as
    ``torch.nn.utils.parameters_to_vector``."""
    params = _tensors(parameters, "parameters_to_vector")
    if not params:
        raise ValueError("parameters_to_vector(): expected a non-empty sequence of tensors")
    return concat([p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters (their data, in place:
    ``.grad`` views and optimizer references stay valid), as
    ``torch.nn.utils.vector_to_parameters``. Checks the total size before writing anything."""
    check(_TENSOR, vec, "vec", "vector_to_parameters()")
    params = _tensors(parameters, "vector_to_parameters")
    flat = vec.data
    if flat.ndim != 1 or flat.size != sum(p.data.size for p in params):
        raise ValueError(f"vector_to_parameters(): vec has shape {flat.shape}; expected a 1-D "
                         f"vector of {sum(p.data.size for p in params)} elements (the "
                         f"parameters' total size)")
    offset = 0
    for p in params:
        n = p.data.size
        np.copyto(p.data, flat[offset:offset + n].reshape(p.data.shape), casting="unsafe")
        p._bump_version()
        offset += n


__all__ = [*_FROM_CLIP, "parameters_to_vector", "vector_to_parameters"]
