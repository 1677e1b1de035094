"""clip's group= at any world size: aligned shards give norms bit-identical to one process,
whole tensors agree to 1e-15, one rank's non-finite gradient gives one decision on every
rank, and AutoClip / ZClip / LossScaler keep identical state on every rank."""

import math

import numpy as np
from _common import check, comm, rank, same_on_all_ranks, size

from tinyclipnn import clip
from tinyclipnn.distributed import SHARD_ALIGN, shard_counts

A = SHARD_ALIGN
NORMS = (1.0, 2.0, 3.0, math.inf)


def my_shard(whole):
    counts = shard_counts(whole.size, size, A)
    lo = sum(counts[:rank])
    return whole[lo:lo + counts[rank]].copy(), lo


def vectors(dtype):
    rng = np.random.default_rng(3)
    n = 3 * A + 1234
    yield "normal", rng.standard_normal(n).astype(dtype)
    big = float(np.finfo(dtype).max) / (4 * n)  # every norm finite; float64 squares overflow
    yield "huge", (rng.uniform(-1, 1, n) * big).astype(dtype)
    yield "tiny", (rng.standard_normal(n) * 1e-30).astype(dtype)
    yield "short", rng.standard_normal(7).astype(dtype)  # fewer chunks than ranks


# --- item 2: bit-identical aligned shards ------------------------------------------------
for dtype in (np.float32, np.float64):
    for name, whole in vectors(dtype):
        shard, _ = my_shard(whole)
        for p in NORMS:
            one = clip.get_total_norm(whole, p)
            got = clip.get_total_norm(shard, p, group=comm)
            check(f"bitwise_{np.dtype(dtype).name}_{name}_p{p}", got == one and math.isfinite(got)
                  and same_on_all_ranks(got), f"{got!r} vs {one!r}")

# whole tensors distributed round-robin: 1e-15 relative
rng = np.random.default_rng(4)
tensors = [rng.standard_normal(s) for s in (5, A + 3, 17, 2 * A - 1, 1, 300, 4 * A + 9)]
for p in NORMS:
    one = clip.get_total_norm(tensors, p)
    got = clip.get_total_norm(tensors[rank::size], p, group=comm)
    check(f"whole_tensors_p{p}", abs(got / one - 1) <= 1e-15 and same_on_all_ranks(got),
          f"{got!r} vs {one!r}")

# clipping: every rank scales by the same coefficient, so each shard equals the slice of
# the one-process result
whole = np.random.default_rng(5).standard_normal(2 * A + 99)
ref = whole.copy()
n1 = clip.clip_grad_norm_(ref, 1.0)
shard, lo = my_shard(whole)
n2 = clip.clip_grad_norm_(shard, 1.0, group=comm)
check("clip_same_coefficient", n1 == n2 and np.array_equal(shard, ref[lo:lo + shard.size]))


# --- item 1: one non-finite decision on every rank ---------------------------------------
def poisoned():
    g = np.random.default_rng(6).standard_normal(A + 10)
    shard, lo = my_shard(g)
    if rank == size - 1 and shard.size:
        shard[-1] = np.nan
    elif rank == size - 1:
        shard = np.array([np.nan])
    return shard


for policy in ("skip", "zero", "error"):
    shard = poisoned()
    before = shard.copy()
    raised = False
    try:
        clip.clip_grad_norm_(shard, 1.0, nonfinite=policy, group=comm)
    except clip.NonFiniteNormError:
        raised = True
    if policy == "zero":
        ok = not np.any(shard)
    else:
        ok = np.array_equal(shard, before, equal_nan=True) and raised == (policy == "error")
    check(f"nonfinite_{policy}_same_on_every_rank", ok)


# --- stateful clippers: identical state on every rank ------------------------------------
def stateful_run(make):
    """Feed 40 steps (a spike at 25, a NaN at 31) to a one-process clipper on the whole
    vector and to a group clipper on the shards; returns (ok_slices, group_state, one_state)."""
    one, grp = make(None), make(comm)
    rng = np.random.default_rng(8)
    ok = True
    for step in range(40):
        whole = rng.standard_normal(A + 77) * (50.0 if step == 25 else 1.0 + 0.1 * step)
        if step == 31:
            whole[3] = np.nan
        ref = whole.copy()
        one(ref)
        shard, lo = my_shard(whole)
        grp(shard)
        ok &= np.array_equal(shard, ref[lo:lo + shard.size], equal_nan=True)
        if isinstance(one, clip.LossScaler):  # back off on the overflow, grow otherwise
            one.update()
            grp.update()
    return ok, grp.state_dict(), one.state_dict()


for cls, kw in ((clip.AutoClip, {"percentile": 25.0, "nonfinite": "skip"}),
                (clip.ZClip, {"warmup_steps": 5, "z_thresh": 2.0, "nonfinite": "skip"}),
                (clip.LossScaler, {"init_scale": 2.0**4, "growth_interval": 3,
                                   "max_norm": 5.0})):
    ok, state, one_state = stateful_run(lambda g, c=cls, k=kw: c(group=g, **k))
    name = cls.__name__
    check(f"{name}_state_identical_on_ranks", same_on_all_ranks(repr(state)))
    check(f"{name}_matches_one_process", ok and repr(state) == repr(one_state),
          f"{state} vs {one_state}")


# --- issue 22: ranks that disagree all raise the same error, none waits, nothing changes ---
def outcome(fn):
    """``"ok"`` or ``"ErrorType: message"`` of ``fn()`` (caught: the job must go on)."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001  (compared across ranks)
        return f"{type(exc).__name__}: {exc}"
    return "ok"


def last_rank_differs(same, other):
    return other if rank == size - 1 else same


def autoclip_resumed_elsewhere(g):
    c = clip.AutoClip(50.0, group=comm)
    c.load_state_dict({"norms": [1.0, last_rank_differs(2.0, 5.0)]})
    return c(g)


def read_only(g):
    g.flags.writeable = False
    return g


DISAGREEMENTS = {
    "max_norm": (lambda g: clip.clip_grad_norm_(g, last_rank_differs(1.0, 10.0), group=comm),
                 "ValueError", "max_norm [1.0 on rank"),
    "norm_type": (lambda g: clip.get_total_norm(g, last_rank_differs(2.0, math.inf),
                                                group=comm), "ValueError", "inf on rank"),
    "nonfinite": (lambda g: clip.ClipGradNorm(1.0, nonfinite=last_rank_differs(None, "zero"),
                                              group=comm)(g), "ValueError", "'zero' on rank"),
    "autoclip_state": (autoclip_resumed_elsewhere, "ValueError", "past norms (state)"),
    "zclip_settings": (lambda g: clip.ZClip(alpha=last_rank_differs(0.9, 0.99), group=comm)(g),
                       "ValueError", "alpha [0.9 on rank"),
    "losscaler_scale": (lambda g: clip.LossScaler(last_rank_differs(8.0, 16.0), group=comm)(g),
                        "ValueError", "scale (state)"),
    "local_error": (lambda g: clip.clip_grad_norm_(read_only(g) if rank == size - 1 else g,
                                                   1.0, group=comm), "ValueError", "read-only"),
}
if size > 1:
    for what, (call, kind, words) in DISAGREEMENTS.items():
        g = np.random.default_rng(9).standard_normal(A + 5) * 10
        before = g.copy()
        got = outcome(lambda c=call, g=g: c(g))
        every = comm.allgather(got)
        others = every[:-1] if what == "local_error" else every  # it raises its own error
        check(f"disagree_{what}_raises_on_every_rank",
              got.startswith(kind) and words in got and all(e == every[0] for e in others)
              and np.array_equal(g, before), got)
    shard, lo = my_shard(whole)  # the communicator still works after all that
    check("group_clip_works_after_disagreements",
          clip.clip_grad_norm_(shard, 1.0, group=comm) == n1
          and np.array_equal(shard, ref[lo:lo + shard.size]))
