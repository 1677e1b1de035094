"""DataParallel, ZeroOptimizer (plain and hybrid) and distributed DP-SGD at any world size."""

import functools

import numpy as np
from _common import check, comm, rank, same_on_all_ranks, size

import tinyclipnn as tc
from tinyclipnn import clip, nn, optim
from tinyclipnn.distributed import (
    SHARD_ALIGN,
    DataParallel,
    ZeroOptimizer,
    clip_per_sample_distributed,
    hybrid_groups,
    shard_counts,
)

F64 = np.float64
GLOBAL_BATCH = 12  # divisible by 1, 2, 3 and 4


def make_model(seed=0, hidden=16, extra=False):
    tc.manual_seed(seed)
    layers = [nn.Linear(5, hidden, dtype=F64), nn.Tanh(), nn.Linear(hidden, 3, dtype=F64)]
    if extra:
        layers += [nn.Tanh(), nn.Linear(3, 3, dtype=F64)]
    return nn.Sequential(*layers)


def batch(step):
    rng = np.random.default_rng(100 + step)
    return rng.standard_normal((GLOBAL_BATCH, 5)), rng.standard_normal((GLOBAL_BATCH, 3))


def local(x):
    per = GLOBAL_BATCH // size
    return x[rank * per:(rank + 1) * per]


def loss_of(model, x, y):
    return nn.functional.mse_loss(model(tc.Tensor(x)), tc.Tensor(y))


def grads(model):
    return np.concatenate([p.grad.ravel() for p in model.parameters()])


def params(model):
    return np.concatenate([p.data.ravel() for p in model.parameters()])


# --- DataParallel -------------------------------------------------------------------------
model = make_model(seed=rank)  # different values on every rank: the broadcast must fix them
dp = DataParallel(model, bucket_mb=None)
ref = make_model(seed=0)
check("dp_broadcast", np.array_equal(params(model), params(ref)) and same_on_all_ranks(
    params(model)))

x, y = batch(0)
loss_of(model, local(x), local(y)).backward()
dp.sync_grads()
loss_of(ref, x, y).backward()
g, g_ref = grads(model), grads(ref)
check("dp_grad_identical_on_ranks", same_on_all_ranks(g))
check("dp_grad_equals_full_batch", np.allclose(g, g_ref, rtol=1e-12, atol=1e-15),
      f"max diff {np.abs(g - g_ref).max()}")

bucketed = make_model(seed=0)
dpb = DataParallel(bucketed, bucket_mb=20 * 8 / 2**20)  # 20-element buckets
check("dp_many_buckets", len(dpb.buckets) > 3)
loss_of(bucketed, local(x), local(y)).backward()
dpb.sync_grads()
check("dp_bucketed_equals_one_allreduce", np.allclose(grads(bucketed), g, rtol=1e-14, atol=0))

# attach: the optimizer syncs before its clipper, so the clip sees the averaged gradient
dp_model, one = make_model(seed=0), make_model(seed=0)
clipper = functools.partial(clip.clip_grad_norm_, max_norm=0.05)
opt = DataParallel(dp_model, bucket_mb=1e-3).attach(optim.SGD(dp_model.parameters(), lr=0.1,
                                                              clipper=clipper))
opt1 = optim.SGD(one.parameters(), lr=0.1, clipper=clipper)
for step in range(3):
    x, y = batch(step)
    for o, m, xs, ys in ((opt, dp_model, local(x), local(y)), (opt1, one, x, y)):
        o.zero_grad()
        loss_of(m, xs, ys).backward()
        o.step()
check("dp_attach_matches_one_process", np.allclose(params(dp_model), params(one), rtol=1e-12)
      and same_on_all_ranks(params(dp_model)), f"{np.abs(params(dp_model) - params(one)).max()}")

# a manual sync_grads() before step() is not repeated by the attached optimizer
calls = []
real_sync = opt.clipper.dp.sync_grads
opt.clipper.dp.sync_grads = lambda: (calls.append(1), real_sync())
dp_model.zero_grad()
loss_of(dp_model, *(local(a) for a in batch(5))).backward()
opt.clipper.dp.sync_grads()
opt.step()
n_manual = len(calls)
loss_of(dp_model, *(local(a) for a in batch(6))).backward()
opt.step()
check("dp_sync_once_per_step", n_manual == 1 and len(calls) == 2, f"{calls}")

if size > 1:
    for what, kwargs in (("shape", {"hidden": 16 + (rank == 1)}), ("count", {"extra": rank == 1})):
        try:
            DataParallel(make_model(**kwargs))
            msg = ""
        except ValueError as e:
            msg = str(e)
        check(f"dp_mismatch_{what}_raises_on_every_rank", "rank 1" in msg, msg)


# --- ZeroOptimizer ------------------------------------------------------------------------
def train(opt_step, model, steps=6, dp_model=None):
    for step in range(steps):
        x, y = batch(step)
        opt_step.zero_grad()
        loss_of(model, local(x), local(y)).backward()
        opt_step.step()
    return params(model)


def zero_vs_dp(align, comm_=None, replicate=None, hidden=16, clipper=None):
    clipper = clipper or functools.partial(clip.clip_grad_norm_, max_norm=0.05)
    zm, dm = make_model(seed=rank, hidden=hidden), make_model(seed=0, hidden=hidden)
    z = ZeroOptimizer(optim.Adam, zm.parameters(), comm_, replicate_comm=replicate, align=align,
                      clipper=clipper, lr=0.01)
    d = DataParallel(dm).attach(optim.Adam(dm.parameters(), lr=0.01,
                                           clipper=functools.partial(clip.clip_grad_norm_,
                                                                     max_norm=0.05)))
    return z, train(z, zm), train(d, dm)


for align in (1, 8, 4096):
    z, pz, pd = zero_vs_dp(align)
    check(f"zero_matches_dp_align{align}", np.allclose(pz, pd, rtol=1e-10, atol=1e-13)
          and same_on_all_ranks(pz), f"max diff {np.abs(pz - pd).max()}")

# clipper objects: ZeroOptimizer gives them the shard group; the norm is the whole model's
zm, dm = make_model(seed=0), make_model(seed=0)
z = ZeroOptimizer(optim.SGD, zm.parameters(), clipper=clip.ClipGradNorm(0.05), lr=0.1, align=8)
d = DataParallel(dm).attach(optim.SGD(dm.parameters(), lr=0.1, clipper=clip.ClipGradNorm(0.05)))
pz, pd = train(z, zm, steps=1), train(d, dm, steps=1)
nz, nd = z.last_clip.total_norm, d.last_clip.total_norm
grads_equal = np.array_equal(z.shard_grad, grads(dm)[z.lo:z.hi])
check("zero_clipper_object_norm_is_whole_model", (nz == nd) if comm.allreduce(
    int(not grads_equal)) == 0 else abs(nz / nd - 1) < 1e-14, f"{nz!r} vs {nd!r}")
check("zero_clipper_object_same_report_on_ranks", same_on_all_ranks(repr(z.last_clip)))
for what, bad, err in (("no_group", clip.ClipGradNormPerTensor(1.0), TypeError),
                       ("wrong_group", clip.ClipGradNorm(1.0, group=comm.Split(rank, rank)),
                        ValueError)):
    if what == "wrong_group" and size == 1:
        continue
    try:
        ZeroOptimizer(optim.SGD, make_model().parameters(), clipper=bad, lr=0.1)
        msg = ""
    except err as e:
        msg = str(e)
    check(f"zero_rejects_clipper_{what}", "ZeroOptimizer: clipper" in msg, msg)

# a NaN on one rank: every rank skips the update (AutoClip, nonfinite="skip")
zm = make_model(seed=0)
z = ZeroOptimizer(optim.Adam, zm.parameters(), clipper=clip.AutoClip(nonfinite="skip"), lr=0.1,
                  align=1)
before = params(zm)
z.zero_grad()
loss_of(zm, *(local(a) for a in batch(0))).backward()
if rank == size - 1:
    next(zm.parameters()).grad[0, 0] = np.nan
z.step()
check("zero_nan_on_one_rank_skips_everywhere", z.last_clip.skipped and np.array_equal(
    params(zm), before) and z.optimizer.skipped_steps == 1 and not z.optimizer.state)

# state_dict: a fresh ZeroOptimizer that loads this rank's state continues identically
zm, zm2 = make_model(seed=0), make_model(seed=0)
z = ZeroOptimizer(optim.Adam, zm.parameters(), clipper=clip.ClipGradNorm(0.05), lr=0.01, align=8)
train(z, zm, steps=3)
for p2, p1 in zip(zm2.parameters(), zm.parameters(), strict=True):
    p2.data[...] = p1.data
z2 = ZeroOptimizer(optim.Adam, zm2.parameters(), clipper=clip.ClipGradNorm(0.05), lr=0.01,
                   align=8)
z2.load_state_dict(z.state_dict())
check("zero_state_dict_round_trip", np.array_equal(train(z, zm, steps=2),
                                                    train(z2, zm2, steps=2)))

# memory: this rank keeps Adam state (exp_avg, exp_avg_sq) for its shard only
z, _, _ = zero_vs_dp(align=1, hidden=64)
n = z.flat_params.size
full = 2 * n * 8
every = comm.allgather(z.state_nbytes())
check("zero_state_is_one_nth", sum(every) == full and max(every) <= -(-n // size) * 16,
      f"{every} vs full {full}")
big = nn.Sequential(nn.Linear(256, 256, dtype=F64), nn.Linear(256, 256, dtype=F64))
zb = ZeroOptimizer(optim.Adam, big.parameters(), lr=1e-3)  # default align: SHARD_ALIGN
zb.step()
nb = zb.flat_params.size
every = comm.allgather(zb.state_nbytes())
check("zero_state_is_one_nth_default_align", sum(every) == 2 * nb * 8
      and max(every) <= 2 * 8 * (nb / size + SHARD_ALIGN), f"{every}")
check("shard_counts_aligned", shard_counts(10 * 4096 + 5, 3, 4096) == [4 * 4096, 4 * 4096,
                                                                       2 * 4096 + 5]
      and shard_counts(5 * 4096 + 7, 4, 4096) == [2 * 4096, 2 * 4096, 4096, 7]
      and shard_counts(0, 2, 8) == [0, 0] and shard_counts(3, 2, 1) == [2, 1])

if size == 4:  # hybrid: 2 replicas x 2 shards
    rep, shard = hybrid_groups(comm, shard_size=2)
    z, pz, pd = zero_vs_dp(1, shard, rep)
    check("hybrid_matches_dp", np.allclose(pz, pd, rtol=1e-10, atol=1e-13),
          f"{np.abs(pz - pd).max()}")
    z.buffer.flat[:] = np.random.default_rng(5).standard_normal(z.buffer.flat.size)
    z.reduce_scatter_grads()
    whole = float(np.linalg.norm(np.concatenate(shard.allgather(z.shard_grad))))
    right = clip.get_total_norm(z.shard_grad, group=shard)
    wrong = clip.get_total_norm(z.shard_grad, group=comm)  # replicate x shard: counts it twice
    check("hybrid_shard_group_norm_is_whole_model", abs(right / whole - 1) < 1e-15)
    check("hybrid_wrong_group_norm_differs", abs(wrong / right - np.sqrt(2)) < 1e-12)


# --- DP-SGD -------------------------------------------------------------------------------
rng = np.random.default_rng(7)
ps_global = [rng.standard_normal((GLOBAL_BATCH, 4, 3)), rng.standard_normal((GLOBAL_BATCH, 3))]
ref = clip.clip_per_sample_([a.copy() for a in ps_global], max_norm=1.0)
res = clip_per_sample_distributed([local(a).copy() for a in ps_global], max_norm=1.0)
check("dpsgd_sum_equals_one_process", all(np.allclose(a, b, rtol=1e-12) for a, b in
                                          zip(res.grads, ref.grads, strict=True)) and
      res.num_clipped == ref.num_clipped and res.batch_size == GLOBAL_BATCH)
sigma, c, dim = 1.3, 0.7, 40_000
noisy = clip_per_sample_distributed([np.zeros((GLOBAL_BATCH // size, dim))], max_norm=c,
                                    noise_multiplier=sigma, rng=11)
noise = noisy.grads[0]
std = float(noise.std())
check("dpsgd_noise_identical_on_ranks", same_on_all_ranks(noise))
check("dpsgd_noise_added_once", abs(std / (sigma * c) - 1) < 0.03 and abs(noise.mean()) < 0.05,
      f"std {std} vs sigma*C {sigma * c} (N draws would give {sigma * c * np.sqrt(size)})")
