"""nn modules against PyTorch (live when importable, golden/modules.npz otherwise): LayerNorm,
GELU, Softmax, LogSoftmax, the loss modules (label smoothing too), and a model's repr,
module/parameter names and ``apply`` order; containers and Module helpers; gradchecks."""

import os
import sys

import numpy as np
import pytest

import tinyclipnn as tc
from tinyclipnn import nn
from tinyclipnn.autograd import gradcheck

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "golden"))
from modules_cases import MODULES, TARGET_IGNORE, WEIGHT, run_module, structure  # noqa: E402

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "golden", "modules.npz"))


def _check(ours, theirs, name):
    assert set(ours) == set(theirs), name
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-10, atol=1e-12,
                                   err_msg=f"{name}/{key}")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_match_pytorch_golden(name):
    ours = run_module(tc, name)
    theirs = {k.split("/", 1)[1]: GOLDEN[k] for k in GOLDEN.files if k.startswith(name + "/")}
    _check(ours, theirs, name)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_match_pytorch_live(name):
    torch = pytest.importorskip("torch")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        theirs = run_module(torch, name)
    finally:
        torch.set_default_dtype(previous)
    _check(run_module(tc, name), theirs, name)


def test_structure_matches_pytorch_golden():
    ours = structure(tc)
    assert ours["repr"] == str(GOLDEN["structure/repr"])
    for key in ("modules", "params", "apply", "children"):
        assert ours[key] == list(GOLDEN[f"structure/{key}"]), key


def test_structure_matches_pytorch_live():
    torch = pytest.importorskip("torch")
    assert structure(tc) == structure(torch)


# ---------------------------------------------------------------------------- gradchecks (float64)
def _x(*shape, seed=0):
    return tc.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_gradcheck(approximate):
    assert gradcheck(lambda x: nn.functional.gelu(x * 2.0, approximate), [_x(3, 4)])


def test_layer_norm_gradcheck():
    w, b = _x(4, seed=1), _x(4, seed=2)
    assert gradcheck(lambda x, w, b: nn.functional.layer_norm(x, 4, w, b), [_x(3, 4), w, b])


@pytest.mark.parametrize("weight", [None, WEIGHT])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_label_smoothing_gradcheck(reduction, weight):
    t = TARGET_IGNORE
    assert gradcheck(lambda z: nn.functional.cross_entropy(
        z, t, weight=weight, reduction=reduction, label_smoothing=0.2), [_x(6, 5)])


def test_class_weights_are_a_buffer_in_the_state_dict():
    loss = nn.CrossEntropyLoss(weight=tc.tensor(WEIGHT))
    assert list(loss.state_dict()) == ["weight"]
    np.testing.assert_array_equal(loss.state_dict()["weight"], WEIGHT)
    assert nn.NLLLoss().state_dict() == {}


# ---------------------------------------------------------------------------- containers
def test_module_list_behaves_like_a_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and isinstance(layers[-1], nn.Linear)
    layers.append(nn.Tanh())
    layers.insert(0, nn.ReLU())
    assert [type(m).__name__ for m in layers] == ["ReLU", "Linear", "Linear", "Linear", "Tanh"]
    del layers[0]
    assert [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    layers += [nn.Sigmoid()]
    assert len(layers) == 5 and len(layers + nn.ModuleList([nn.ReLU()])) == 6
    with pytest.raises(TypeError, match="module must be a Module, got str"):
        layers.append("relu")
    with pytest.raises(IndexError, match="out of range"):
        layers[9]
    with pytest.raises(TypeError, match="iterable of Modules"):
        layers.extend(nn.Linear(2, 2))
    assert "(0-2): 3 x Linear(in_features=2, out_features=2, bias=True)" in repr(
        nn.ModuleList([nn.Linear(2, 2) for _ in range(3)]))


def test_module_dict_behaves_like_a_dict():
    d = nn.ModuleDict({"a": nn.Linear(2, 3)})
    d["b"] = nn.Linear(3, 1)
    d.update([("c", nn.Tanh())])
    assert list(d) == ["a", "b", "c"] and "b" in d and len(d) == 3
    assert [n for n, _ in d.named_parameters()] == ["a.weight", "a.bias", "b.weight", "b.bias"]
    assert isinstance(d.pop("c"), nn.Tanh) and list(d.keys()) == ["a", "b"]
    with pytest.raises(TypeError, match="key must be a string, got int 1"):
        d[1] = nn.Tanh()
    with pytest.raises(TypeError, match="module must be a Module, got"):
        d["x"] = 3
    d.clear()
    assert len(d) == 0


def test_params_of_containers_reach_the_optimizer():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])
            self.heads = nn.ModuleDict({"out": nn.Linear(2, 1)})

        def forward(self, x):
            for b in self.blocks:
                x = b(x).tanh()
            return self.heads["out"](x)

    net = Net()
    opt = tc.optim.SGD(net.parameters(), lr=0.1)
    assert sum(len(g["params"]) for g in opt.param_groups) == 6
    net(tc.randn(4, 2)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_python_list_of_modules_warns():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(2, 2)]

    with pytest.warns(UserWarning, match="use nn.ModuleList"):
        Net()


def test_apply_named_modules_and_get_submodule():
    seq = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2)))

    def init(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)

    assert seq.apply(init) is seq
    assert all(not p.data.any() for n, p in seq.named_parameters() if n.endswith("weight"))
    shared = nn.Linear(2, 2)
    twice = nn.Sequential(shared, shared)
    assert [n for n, _ in twice.named_modules()] == ["", "0"]
    assert [n for n, _ in twice.named_modules(remove_duplicate=False)] == ["", "0", "1"]
    assert [n for n, _ in seq.named_modules(prefix="net")][:2] == ["net", "net.0"]
    assert seq.get_submodule("1.0") is seq[1][0]
    with pytest.raises(AttributeError, match="no submodule"):
        seq.get_submodule("1.5")
    assert isinstance(seq[0:1], nn.Sequential) and len(seq.append(nn.ReLU())) == 3


def test_softmax_without_dim_warns_like_pytorch():
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        out = nn.Softmax()(tc.ones(2, 3))
    np.testing.assert_allclose(out.data, np.full((2, 3), 1 / 3))


@pytest.mark.parametrize("make, exc, match", [
    (lambda: nn.GELU("fast"), ValueError, "approximate"),
    (lambda: nn.LayerNorm(4, eps=0), ValueError, "eps"),
    (lambda: nn.LayerNorm("4"), TypeError, "normalized_shape"),
    (lambda: nn.CrossEntropyLoss(label_smoothing=1.5), ValueError, "label_smoothing"),
    (lambda: nn.MSELoss(reduction="avg"), ValueError, "reduction"),
    (lambda: nn.CrossEntropyLoss(weight=np.ones(3))(tc.zeros(2, 5), np.array([0, 1])), ValueError,
     "weight should be a 1D tensor of size C = 5"),
    (lambda: nn.LayerNorm(4)(tc.zeros(2, 5)), ValueError, "normalized_shape"),
    (lambda: nn.Linear(3, 2)(tc.zeros(2, 4)), ValueError, "in_features=3"),
])
def test_argument_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
