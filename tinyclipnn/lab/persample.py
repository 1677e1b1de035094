"""Per-example gradients of an MLP of ``nn.Linear`` layers in one backward pass (the hook trick
Opacus uses): each layer's input is kept and the gradient reaching its output is captured, so
example i's weight gradient is ``outer(grad_out_i, in_i)``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn
from ..autograd import Tensor
from ..nn import functional as F


class PerSampleMLP(nn.Module):
    """``Linear -> act -> ... -> Linear`` that also returns per-example gradients."""

    def __init__(self, sizes: list[int], act: str = "tanh") -> None:
        super().__init__()
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least input and output size, got {sizes}")
        self.layers = nn.Sequential(*[nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:],
                                                                        strict=True)])
        self.act = act

    def forward(self, x: Any, capture: list | None = None) -> Tensor:
        h = x if isinstance(x, Tensor) else Tensor(np.asarray(x, np.float32))
        n = len(self.layers)
        for i, layer in enumerate(self.layers):
            inp = h.data
            h = layer(h)
            if capture is not None:
                slot: dict[str, np.ndarray] = {"in": inp}
                capture.append(slot)
                h.register_hook(lambda g, s=slot: s.__setitem__("grad", g))
            if i < n - 1:
                h = h.tanh() if self.act == "tanh" else h.relu()
        return h

    def per_sample_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        """Mean loss and per-example gradients ``[(B, *p.shape) for p in parameters()]`` of the
        cross-entropy of each example (in ``parameters()`` order: weight, bias per layer)."""
        capture: list[dict[str, np.ndarray]] = []
        out = self.forward(x, capture)
        loss = F.cross_entropy(out, y, reduction="sum")
        self.zero_grad()
        loss.backward()
        grads: list[np.ndarray] = []
        for slot in capture:
            g, a = slot["grad"], slot["in"]
            grads += [np.einsum("bo,bi->boi", g, a), g.copy()]
        return loss.item() / len(y), grads
