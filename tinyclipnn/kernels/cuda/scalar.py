"""``DeviceScalar``: a float64 value that stays in device memory until asked for.

Returned by the no-host-sync clip path (``clip_grad_norm_`` on device gradients). Reading it
(``float(x)``, ``x.item()``, printing, comparing) copies 8 bytes to the host and therefore waits
for the GPU; passing ``x.device_array`` (or ``x`` itself, which has
``__cuda_array_interface__``) to CuPy/PyTorch/numba keeps it on the device. No numba import.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class DeviceScalar:
    """One float64 in device memory; ``float(x)`` / ``x.item()`` give a Python float."""

    __slots__ = ("_dev",)

    def __init__(self, device_array: Any) -> None:
        self._dev = device_array

    @property
    def device_array(self) -> Any:
        """The numba device array of shape (1,) holding the value (no copy)."""
        return self._dev

    @property
    def __cuda_array_interface__(self) -> dict:
        return self._dev.__cuda_array_interface__

    def item(self) -> float:
        """The value as a Python float (copies to the host: synchronises)."""
        return float(self._dev.copy_to_host()[0])

    def __float__(self) -> float:
        return self.item()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self.item(), dtype=dtype)

    def __repr__(self) -> str:
        return f"DeviceScalar({self.item()!r})"

    def __format__(self, spec: str) -> str:
        return format(self.item(), spec)

    def __eq__(self, other: object) -> bool:
        return self.item() == float(other)  # type: ignore[arg-type]

    def __lt__(self, other: Any) -> bool:
        return self.item() < float(other)

    def __le__(self, other: Any) -> bool:
        return self.item() <= float(other)

    def __gt__(self, other: Any) -> bool:
        return self.item() > float(other)

    def __ge__(self, other: Any) -> bool:
        return self.item() >= float(other)

    __hash__ = None  # type: ignore[assignment]  (mutable device memory)
