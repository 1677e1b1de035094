"""TEMPORARY stand-in for issue 10's group= clip API (deleted once it is merged)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import clip

SHARD_ALIGN = getattr(clip, "SHARD_ALIGN", 1 << 15)


def clip_grad_norm_(params: Any, max_norm: float, norm_type: float = 2.0,
                    nonfinite: str | None = None, group: Any = None) -> float:
    from ..clip.norm import combine_norms

    local = clip.get_total_norm(params, norm_type)
    total = local if group is None else float(combine_norms(np.array(group.allgather(local)),
                                                            norm_type))
    if not math.isfinite(total) and nonfinite == "skip":
        return total
    if not math.isfinite(total) and nonfinite == "zero":
        for p in params:
            p.grad[...] = 0
        return total
    clip.clip_grads_with_norm_(params, max_norm, total)
    return total


def get_total_norm(grads: Any, norm_type: float = 2.0, group: Any = None) -> float:
    from ..clip.norm import combine_norms

    local = clip.get_total_norm(grads, norm_type)
    return local if group is None else float(combine_norms(np.array(group.allgather(local)),
                                                           norm_type))
