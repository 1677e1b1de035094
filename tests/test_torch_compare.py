"""tinyclipnn against PyTorch: golden numbers (always; made by tests/golden/make_foundation_golden.py)
and live torch (when importable) for op compositions, cross-entropy and optimizers."""

import os
import sys

import numpy as np
import pytest

import tinyclipnn as tc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "golden"))
from foundation_cases import COMPOSITIONS, OPTIMIZERS, ce_inputs, optim_inputs  # noqa: E402

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "golden", "foundation.npz"))


@pytest.mark.parametrize("name", list(COMPOSITIONS))
def test_compositions_match_torch_golden(name):
    fn, shapes = COMPOSITIONS[name]
    xs = [tc.tensor(GOLDEN[f"{name}/in{i}"], requires_grad=True) for i in range(len(shapes))]
    y = fn(tc, *xs)
    y.backward(np.ones(y.shape))
    np.testing.assert_allclose(y.data, GOLDEN[f"{name}/out"], rtol=1e-12, atol=1e-14)
    for i, x in enumerate(xs):
        np.testing.assert_allclose(x.grad, GOLDEN[f"{name}/grad{i}"], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_torch_golden(reduction):
    logits, target = ce_inputs()
    z = tc.tensor(logits, requires_grad=True)
    loss = tc.nn.functional.cross_entropy(z, target, reduction=reduction)
    loss.backward(np.ones(loss.shape))
    np.testing.assert_allclose(loss.data, GOLDEN[f"ce_{reduction}/out"], rtol=1e-12)
    np.testing.assert_allclose(z.grad, GOLDEN[f"ce_{reduction}/grad"], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizers_match_torch_golden(name):
    cls_name, kw = OPTIMIZERS[name]
    p0, grads = optim_inputs()
    p = tc.nn.Parameter(p0.copy())
    opt = getattr(tc.optim, cls_name)([p], **kw)
    traj = []
    for g in grads:
        p.grad = g.copy()
        opt.step()
        traj.append(p.data.copy())
    np.testing.assert_allclose(np.array(traj), GOLDEN[f"optim_{name}"], rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("name", list(COMPOSITIONS))
def test_compositions_match_live_torch(name):
    torch = pytest.importorskip("torch")
    fn, shapes = COMPOSITIONS[name]
    rng = np.random.default_rng(123)
    xs = [rng.uniform(0.5, 1.5, s) for s in shapes]
    ours = [tc.tensor(x, requires_grad=True) for x in xs]
    theirs = [torch.tensor(x, requires_grad=True) for x in xs]
    fn(tc, *ours).backward()
    fn(torch, *theirs).backward()
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_linear_and_mlp_match_live_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 5))
    y = rng.integers(0, 3, 8)
    ours = tc.nn.Sequential(tc.nn.Linear(5, 7), tc.nn.Tanh(), tc.nn.Linear(7, 3)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))
    theirs = theirs.double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    tc.nn.functional.cross_entropy(ours(tc.tensor(x)), y).backward()
    torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y)).backward()
    for (n, p), (m, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        assert n == m
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-10, atol=1e-14)
