"""One gather group: gradients of one device kind and one kernel dtype, laid out for the
backend, with the backend's plans of them (``_gather`` builds groups, ``_recent`` rebuilds a
kept one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Group:
    """Arrays of one device kind and one kernel dtype, with their input positions."""

    dtype: np.dtype
    arrays: list[Any] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    plans: dict[str, Any] = field(default_factory=dict)  # backend name -> its plan of arrays

    def planned(self, be: Any) -> Any:
        """What every backend call of a clip function gets: ``be.plan(arrays)`` (the Numba
        segment table, made once per group so the passes look the arrays up once), or the
        arrays themselves for a backend without plans."""
        if not be.makes_plans:
            return self.arrays
        plan = self.plans.get(be.name)
        if plan is None:
            plan = self.plans[be.name] = be.plan(self.arrays)
        return plan
