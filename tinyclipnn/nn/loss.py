"""Loss modules `CrossEntropyLoss`, `NLLLoss`, `MSELoss`, `L1Loss` (thin wrappers of `functional`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validate import check
from ..autograd import Tensor
from . import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = F.check_reduction(reduction, type(self).__name__)

    def _weight_buffer(self, weight: Any) -> None:
        """Class weights as a buffer (in the state dict, as PyTorch's), or None."""
        w = weight.data if isinstance(weight, Tensor) else weight
        self.register_buffer("weight", None if w is None else np.array(w, copy=True))


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits (N, C, ...) at class indices (N, ...) or class
    probabilities (N, C, ...); see `functional.cross_entropy` (``weight`` per class,
    ``ignore_index``, ``reduction``, ``label_smoothing``)."""

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        self._weight_buffer(weight)
        self.ignore_index = ignore_index
        self.label_smoothing = check(F.LABEL_SMOOTHING, label_smoothing, "label_smoothing",
                                     "CrossEntropyLoss")

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                               self.label_smoothing)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (N, C, ...) at class indices (N, ...)."""

    def __init__(self, weight: Any = None, ignore_index: int = -100,
                 reduction: str = "mean") -> None:
        super().__init__(reduction)
        self._weight_buffer(weight)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    """Mean (``reduction="mean"``), summed or element-wise squared error."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Mean (``reduction="mean"``), summed or element-wise absolute error."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.l1_loss(input, target, self.reduction)
