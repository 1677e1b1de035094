"""End to end: an MLP on the built-in spirals reaches >= 97% training accuracy in 1,000 steps,
with a clipped optimizer step. (How fast is a benchmark's question, not a test's: a wall-clock
limit here failed on a loaded machine without any change in the code.)"""

import numpy as np

import tinyclipnn as tc
from tinyclipnn import nn, optim
from tinyclipnn.data.spirals import make_spirals


def _clip_norm(params, max_norm=5.0):
    """A plain global-norm clipper, so this test needs nothing but the foundation."""
    total = np.sqrt(sum(float((p.grad.astype(np.float64) ** 2).sum()) for p in params))
    if total > max_norm:
        for p in params:
            p.grad *= max_norm / (total + 1e-6)
    return total


def test_mlp_learns_spirals():
    tc.manual_seed(0)
    x, y = make_spirals(n_per_class=100, n_classes=3, seed=0)
    assert x.shape == (300, 2) and x.dtype == np.float32 and set(y) == {0, 1, 2}
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                          nn.Linear(64, 3))
    opt = optim.Adam(model.parameters(), lr=0.01, clipper=_clip_norm)
    xt = tc.tensor(x)
    for _ in range(1000):
        loss = nn.functional.cross_entropy(model(xt), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with tc.no_grad():
        acc = (model(xt).data.argmax(1) == y).mean()
    assert acc >= 0.97, f"training accuracy {acc:.3f}"
    assert opt.last_clip is not None
