"""The scheduler cases behind schedulers.npz, written once for torch and tinyclipnn alike.

Each case builds schedulers from ``S`` (``torch.optim.lr_scheduler`` or
``tinyclipnn.optim.lr_scheduler``) on an optimizer with two parameter groups and is stepped
for EPOCHS epochs (``optimizer.step()`` first, as PyTorch asks); `run_case` records every
group's lr and momentum (SGD ``momentum`` / Adam beta1) after construction and each step,
and each scheduler's ``get_last_lr()``.
"""

import numpy as np

EPOCHS = 100
# a noisy, plateauing "validation loss" for ReduceLROnPlateau
METRICS = list(1.0 / (1 + 0.1 * np.arange(EPOCHS + 1)) + 0.05 * np.sin(np.arange(EPOCHS + 1)))


def _every(scheds, epoch):
    for s in scheds:
        s.step()


def _plateau(scheds, epoch):
    scheds[0].step(METRICS[epoch])


def _closed_form(scheds, epoch):  # the deprecated step(epoch): closed forms
    for s in scheds:
        s.step(epoch)


CASES = {
    "step_exp": dict(build=lambda S, o: [S.StepLR(o, 3, 0.1), S.ExponentialLR(o, 0.9)]),
    "linear_warmup_multistep": dict(build=lambda S, o: [
        S.LinearLR(o, start_factor=0.1, total_iters=10),
        S.MultiStepLR(o, milestones=[30, 60, 60, 90], gamma=0.5)]),
    "constant_cosine": dict(build=lambda S, o: [
        S.ConstantLR(o, factor=0.5, total_iters=7), S.CosineAnnealingLR(o, T_max=25, eta_min=1e-3)]),
    "three_stacked": dict(build=lambda S, o: [
        S.StepLR(o, 10, 0.7), S.ExponentialLR(o, 0.98), S.CosineAnnealingLR(o, T_max=40)]),
    "sequential": dict(build=lambda S, o: [S.SequentialLR(o, [
        S.LinearLR(o, start_factor=0.01, total_iters=10),
        S.CosineAnnealingLR(o, T_max=50, eta_min=1e-4), S.ExponentialLR(o, 0.95)],
        milestones=[10, 60])]),
    "chained": dict(build=lambda S, o: [S.ChainedScheduler([
        S.ConstantLR(o, factor=0.2, total_iters=5), S.ExponentialLR(o, 0.97),
        S.MultiStepLR(o, [20, 50], 0.3)])]),
    "warm_restarts": dict(build=lambda S, o: [
        S.CosineAnnealingWarmRestarts(o, T_0=7, T_mult=2, eta_min=0.01)]),
    "warm_restarts_then_step": dict(build=lambda S, o: [
        S.CosineAnnealingWarmRestarts(o, T_0=10), S.StepLR(o, 30, 0.5)]),
    "onecycle_sgd": dict(build=lambda S, o: [S.OneCycleLR(o, max_lr=[0.1, 0.05], total_steps=100)]),
    "onecycle_adam_three_phase": dict(optim="Adam", build=lambda S, o: [S.OneCycleLR(
        o, max_lr=0.01, epochs=10, steps_per_epoch=10, three_phase=True, anneal_strategy="linear",
        pct_start=0.25)]),
    "plateau": dict(step=_plateau, build=lambda S, o: [S.ReduceLROnPlateau(
        o, factor=0.5, patience=3, cooldown=2, threshold=0.01, min_lr=[1e-3, 0.0])]),
    "plateau_max_abs": dict(step=_plateau, build=lambda S, o: [S.ReduceLROnPlateau(
        o, mode="max", factor=0.3, patience=2, threshold=0.02, threshold_mode="abs")]),
    "lambda_multiplicative": dict(build=lambda S, o: [
        S.LambdaLR(o, [lambda e: 0.95 ** e, lambda e: 1 / (1 + e)]),
        S.MultiplicativeLR(o, lambda e: 0.99)]),
    "polynomial_step": dict(build=lambda S, o: [
        S.PolynomialLR(o, total_iters=40, power=2.0), S.StepLR(o, 15, 0.8)]),
    "resume_last_epoch": dict(build=lambda S, o: [
        S.ExponentialLR(o, 0.9), S.StepLR(o, 4, 0.5, last_epoch=7)]),
    "closed_form_epochs": dict(step=_closed_form, build=lambda S, o: [
        S.MultiStepLR(o, [10, 40], 0.5), S.CosineAnnealingLR(o, T_max=30, eta_min=0.01)]),
}


def make_optimizer(lib, kind="SGD"):
    """Two parameter groups (lr 0.1 and 0.05) on ``lib``'s SGD (momentum 0.9) or Adam."""
    p1, p2 = lib.nn.Parameter(lib.zeros(2)), lib.nn.Parameter(lib.zeros(3))
    groups = [{"params": [p1], "lr": 0.1}, {"params": [p2], "lr": 0.05}]
    if kind == "Adam":
        return lib.optim.Adam(groups, lr=0.1)
    return lib.optim.SGD(groups, lr=0.1, momentum=0.9)


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


def run_case(lib, name, epochs=EPOCHS):
    """``{"lr": (epochs+1, groups), "momentum": (epochs+1, groups), "last_lr":
    (epochs+1, schedulers, groups)}`` for case ``name`` run with ``lib``."""
    case = CASES[name]
    opt = make_optimizer(lib, case.get("optim", "SGD"))
    scheds = case["build"](lib.optim.lr_scheduler, opt)
    step = case.get("step", _every)
    lrs, moms, last = [], [], []

    def record():
        lrs.append([g["lr"] for g in opt.param_groups])
        moms.append(_momenta(opt))
        last.append([list(s.get_last_lr()) for s in scheds])

    record()
    for epoch in range(1, epochs + 1):
        opt.step()
        step(scheds, epoch)
        record()
    return {"lr": np.array(lrs, dtype=np.float64), "momentum": np.array(moms, dtype=np.float64),
            "last_lr": np.array(last, dtype=np.float64)}
