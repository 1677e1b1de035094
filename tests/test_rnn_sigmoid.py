"""``nn.RNN(nonlinearity="sigmoid")`` and ``nn.RNNCell(nonlinearity="sigmoid")`` (logistic units,
beyond PyTorch's tanh / relu): the fused path against the composed one with every option
(bptt_clip, record_grad_norms, vanishing_penalty, lengths, layers, directions), both against an
independent PyTorch autograd loop, float64 gradcheck, and the cell against the layer.

(The Numba kernels against the numpy reference, and the fused node's gradcheck, run for the
sigmoid mode with the other modes in test_rnn_kernels.py; Ω with σ' in test_rnn_omega.py.)"""

import os
import sys

import numpy as np
import pytest

import tinyclipnn as tc
from tinyclipnn import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "golden"))
from rnn_cases import SIZES, build, run_ours, run_torch  # noqa: E402

CASES = {
    "1l": {"mode": "RNN_SIGMOID"},
    "2l_bi_h0_lens": {"mode": "RNN_SIGMOID", "num_layers": 2, "bidirectional": True, "h0": True,
                      "lengths": [3, 4, 1]},
    "bf_nobias": {"mode": "RNN_SIGMOID", "batch_first": True, "bias": False},
}


def _torch_elman(case: dict, a: dict, act: str = "sigmoid") -> dict:
    """The same loss and gradients from a plain per-step PyTorch loop (torch autograd; shares no
    code with ours): masked steps keep the state and output zero, the reverse direction starts
    at each sequence's own last step."""
    import torch

    f = torch.sigmoid if act == "sigmoid" else torch.tanh
    T, B, I, H = SIZES.values()
    L, D = case.get("num_layers", 1), 2 if case.get("bidirectional") else 1
    p = {k[6:]: torch.tensor(v, requires_grad=True) for k, v in a.items()
         if k.startswith("param/")}
    x = torch.tensor(a["x"], requires_grad=True)
    inp = x.transpose(0, 1) if case.get("batch_first") else x
    h0 = (torch.tensor(a["h0"], requires_grad=True) if "h0" in a
          else torch.zeros(L * D, B, H, dtype=torch.float64))
    lens = torch.tensor(a.get("lengths", [T] * B))
    h_n = []
    for layer in range(L):
        outs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w_ih, w_hh = p["weight_ih" + sfx], p["weight_hh" + sfx]
            bias = p["bias_ih" + sfx] + p["bias_hh" + sfx] if "bias_ih" + sfx in p else 0.0
            h, ys = h0[layer * D + d], [None] * T
            for t in (range(T - 1, -1, -1) if d else range(T)):
                new = f(inp[t] @ w_ih.T + h @ w_hh.T + bias)
                m = (t < lens)[:, None]
                h = torch.where(m, new, h)
                ys[t] = torch.where(m, new, torch.zeros_like(new))
            outs.append(torch.stack(ys))
            h_n.append(h)
        inp = torch.cat(outs, dim=2)
    y = inp.transpose(0, 1) if case.get("batch_first") else inp
    hn = torch.stack(h_n)
    ((y * torch.tensor(a["wy"])).sum() + (hn * torch.tensor(a["wh"])).sum()).backward()
    res = {"y": y.detach().numpy(), "h_n": hn.detach().numpy(), "grad/x": x.grad.numpy()}
    if "h0" in a:
        res["grad/h0"] = h0.grad.numpy()
    res.update({"grad/" + k: v.grad.numpy() for k, v in p.items()})
    return res


def _assert_same(ours: dict, ref: dict, tol: float) -> None:
    assert set(ours) == set(ref)
    for k in ref:
        np.testing.assert_allclose(ours[k], ref[k], rtol=tol, atol=tol, err_msg=k)


@pytest.mark.parametrize("name", list(CASES))
def test_matches_an_independent_torch_loop(name):
    pytest.importorskip("torch")
    case = CASES[name]
    inputs = build(case, seed=4)
    ref = _torch_elman(case, inputs)
    for fused in (True, False):
        ours, _ = run_ours(case, inputs, fused=fused)
        _assert_same(ours, ref, 1e-10)
    # the loop itself is right: with tanh units it gives torch.nn.RNN's numbers
    tanh_case = {**case, "mode": "RNN_TANH"}
    _assert_same(_torch_elman(tanh_case, inputs, "tanh"), run_torch(tanh_case, inputs), 1e-12)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("clip", [None, ("value", 0.05), ("norm", 0.1)])
@pytest.mark.parametrize("penalty", [0.0, 0.7])
def test_fused_matches_composed(clip, penalty, dtype, tol):
    """Outputs, gradients, recorded norms and Ω agree with bptt_clip, record_grad_norms and
    vanishing_penalty together (small clip values: sigmoid gradients are small)."""
    case = CASES["2l_bi_h0_lens"]
    inputs = build(case, seed=5)
    extra = {"record_grad_norms": True, "vanishing_penalty": penalty}
    if clip is not None:
        extra.update(bptt_clip=clip[1], bptt_clip_mode=clip[0])
    fused, mf = run_ours(case, inputs, fused=True, dtype=dtype, **extra)
    composed, mc = run_ours(case, inputs, fused=False, dtype=dtype, **extra)
    _assert_same(fused, composed, tol)
    assert set(mf.grad_norms) == set(mc.grad_norms) == {"l0", "l0_reverse", "l1", "l1_reverse"}
    for k in mf.grad_norms:
        np.testing.assert_allclose(mf.grad_norms[k], mc.grad_norms[k], rtol=tol, atol=tol)
    assert set(mf.omega) == set(mc.omega) == (set(mf.grad_norms) if penalty else set())
    for k in mf.omega:
        assert mf.omega[k] > 0 and mf.omega[k] == pytest.approx(mc.omega[k], rel=tol, abs=tol)


def test_clipping_changes_sigmoid_gradients_when_it_bites():
    """bptt_clip is applied (not ignored) on the sigmoid path: a tight clip changes dW_hh."""
    case = CASES["1l"]
    inputs = build(case, seed=6)
    free, _ = run_ours(case, inputs, fused=True)
    clipped, _ = run_ours(case, inputs, fused=True, bptt_clip=1e-3)
    assert not np.allclose(free["grad/weight_hh_l0"], clipped["grad/weight_hh_l0"])


def test_layer_gradcheck_float64():
    """Central differences through the whole layer (2 layers, bidirectional, lengths, h0) w.r.t.
    the input, h0 and every parameter, on both paths."""
    rng = np.random.default_rng(3)
    for fused in (True, False):
        layer = nn.RNN(2, 3, num_layers=2, nonlinearity="sigmoid", bidirectional=True,
                       fused=fused, dtype=np.float64)
        for p in layer.parameters():
            p.data[...] = rng.standard_normal(p.shape)
        x = tc.Tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
        h0 = tc.Tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)

        def fn(x, h0, *params, layer=layer):  # params are the layer's own (perturbed in place)
            y, hn = layer(x, h0, lengths=[4, 2])
            return tc.concat([y.reshape(-1), hn.reshape(-1)], axis=0)

        assert tc.gradcheck(fn, [x, h0, *layer.parameters()], eps=1e-6, atol=1e-8, rtol=1e-6)


def test_cell_matches_layer_step_and_outputs_lie_in_0_1():
    rng = np.random.default_rng(0)
    layer = nn.RNN(3, 4, nonlinearity="sigmoid", dtype=np.float64)
    cell = nn.RNNCell(3, 4, nonlinearity="sigmoid", dtype=np.float64)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = rng.standard_normal((2, 3)) * 5
    y, _ = layer(tc.Tensor(x[None]))
    h = cell(tc.Tensor(x))
    np.testing.assert_allclose(h.data, y.data[0], rtol=1e-12)
    assert (h.data > 0).all() and (h.data < 1).all()
    assert cell.nonlinearity == "sigmoid" and "nonlinearity=sigmoid" in repr(cell)
    assert cell(tc.Tensor(x[0])).shape == (4,)
    # the cell's gradients (composed autograd cells) by central differences
    xt = tc.Tensor(x, requires_grad=True)
    ht = tc.Tensor(rng.standard_normal((2, 4)), requires_grad=True)
    assert tc.gradcheck(lambda a, b: cell(a, b), [xt, ht], eps=1e-6, atol=1e-7, rtol=1e-6)
