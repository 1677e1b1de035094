"""Recurrent-layer cases shared by tests/golden/make_rnn_golden.py (PyTorch) and tests/test_rnn*.py.

Each case is a layer configuration; `build` makes its inputs (float64, from a fixed seed),
`run_torch` and `run_ours` compute the outputs and the gradients of
``L = sum(y * wy) + sum(h_n * wh) [+ sum(c_n * wc)]`` w.r.t. the input, the initial states and
every parameter, as a flat dict of numpy arrays with the same keys.
"""

from __future__ import annotations

import numpy as np

SIZES = {"T": 4, "B": 3, "I": 3, "H": 4}

CASES: dict[str, dict] = {
    "rnn_tanh_2l_bi_h0": {"mode": "RNN_TANH", "num_layers": 2, "bidirectional": True, "h0": True},
    "rnn_relu_bf_nobias": {"mode": "RNN_RELU", "batch_first": True, "bias": False},
    "rnn_tanh_lens": {"mode": "RNN_TANH", "lengths": [3, 4, 1]},
    "lstm_1l": {"mode": "LSTM"},
    "lstm_2l_bi_bf_h0_lens": {"mode": "LSTM", "num_layers": 2, "bidirectional": True,
                              "batch_first": True, "h0": True, "lengths": [4, 1, 3]},
    "lstm_unbatched_h0": {"mode": "LSTM", "unbatched": True, "h0": True},
    "gru_2l_h0": {"mode": "GRU", "num_layers": 2, "h0": True},
    "gru_bi_lens_nobias": {"mode": "GRU", "bidirectional": True, "lengths": [2, 4, 3],
                           "bias": False},
}

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "RNN_SIGMOID": 1, "LSTM": 4, "GRU": 3}
NONLINEARITY = {"RNN_TANH": "tanh", "RNN_RELU": "relu", "RNN_SIGMOID": "sigmoid"}  # sigmoid: ours


def layer_kwargs(case: dict) -> dict:
    kw = {k: case[k] for k in ("num_layers", "bidirectional", "batch_first", "bias") if k in case}
    if case["mode"].startswith("RNN"):
        kw["nonlinearity"] = NONLINEARITY[case["mode"]]
    return kw


def param_shapes(case: dict) -> dict[str, tuple[int, ...]]:
    """PyTorch's parameter names and shapes, in registration order."""
    T, B, I, H = SIZES.values()
    G = GATES[case["mode"]] * H
    D = 2 if case.get("bidirectional") else 1
    shapes = {}
    for layer in range(case.get("num_layers", 1)):
        for sfx in [f"_l{layer}"] + ([f"_l{layer}_reverse"] if D == 2 else []):
            shapes["weight_ih" + sfx] = (G, I if layer == 0 else D * H)
            shapes["weight_hh" + sfx] = (G, H)
            if case.get("bias", True):
                shapes["bias_ih" + sfx] = (G,)
                shapes["bias_hh" + sfx] = (G,)
    return shapes


def _case(name: str | dict) -> dict:
    return CASES[name] if isinstance(name, str) else name


def build(name: str | dict, seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs of a case (a name in CASES, or a dict like them): x, h0, c0, lengths, loss
    weights and ``param/<name>`` arrays."""
    case = _case(name)
    rng = np.random.default_rng(seed)
    T, B, I, H = SIZES.values()
    D = 2 if case.get("bidirectional") else 1
    L = case.get("num_layers", 1)
    unb = case.get("unbatched", False)
    x_shape = (T, I) if unb else (B, T, I) if case.get("batch_first") else (T, B, I)
    s_shape = (L * D, H) if unb else (L * D, B, H)
    y_shape = x_shape[:-1] + (D * H,)
    out = {"x": rng.standard_normal(x_shape), "wy": rng.standard_normal(y_shape),
           "wh": rng.standard_normal(s_shape), "wc": rng.standard_normal(s_shape)}
    if case.get("h0"):
        out["h0"] = rng.standard_normal(s_shape)
        if case["mode"] == "LSTM":
            out["c0"] = rng.standard_normal(s_shape)
    if "lengths" in case:
        out["lengths"] = np.array(case["lengths"], np.int64)
    k = 1 / np.sqrt(H)
    for pname, shape in param_shapes(case).items():
        out["param/" + pname] = rng.uniform(-k, k, shape)
    return out


def _grads(named: dict, prefix: str = "grad/") -> dict[str, np.ndarray]:
    return {prefix + k: v for k, v in named.items() if v is not None}


def run_torch(name: str | dict, a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    case = _case(name)
    mode, lstm = case["mode"], case["mode"] == "LSTM"
    cls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}.get(mode, torch.nn.RNN)
    T, B, I, H = SIZES.values()
    m = cls(I, H, dtype=torch.float64, **layer_kwargs(case))
    m.load_state_dict({k[6:]: torch.tensor(v) for k, v in a.items() if k.startswith("param/")})
    x = torch.tensor(a["x"], requires_grad=True)
    states = [torch.tensor(a[k], requires_grad=True) for k in ("h0", "c0") if k in a]
    hx = None if not states else (tuple(states) if lstm else states[0])
    if "lengths" in a:
        packed = pack_padded_sequence(x, torch.tensor(a["lengths"]),
                                      batch_first=bool(case.get("batch_first")),
                                      enforce_sorted=False)
        y, st = m(packed, hx)
        y, _ = pad_packed_sequence(y, batch_first=bool(case.get("batch_first")), total_length=T)
    else:
        y, st = m(x, hx)
    h_n, c_n = st if lstm else (st, None)
    loss = (y * torch.tensor(a["wy"])).sum() + (h_n * torch.tensor(a["wh"])).sum()
    if lstm:
        loss = loss + (c_n * torch.tensor(a["wc"])).sum()
    loss.backward()
    res = {"y": y.detach().numpy(), "h_n": h_n.detach().numpy(), "grad/x": x.grad.numpy()}
    if lstm:
        res["c_n"] = c_n.detach().numpy()
    for k, s in zip(("h0", "c0"), states, strict=False):
        res["grad/" + k] = s.grad.numpy()
    res.update(_grads({n: p.grad.numpy() for n, p in m.named_parameters()}))
    return res


def run_ours(name: str | dict, a: dict[str, np.ndarray], fused: bool = True, dtype=np.float64,
             **extra) -> tuple[dict[str, np.ndarray], object]:
    import tinyclipnn as tc

    case = _case(name)
    mode, lstm = case["mode"], case["mode"] == "LSTM"
    cls = {"LSTM": tc.nn.LSTM, "GRU": tc.nn.GRU}.get(mode, tc.nn.RNN)
    T, B, I, H = SIZES.values()
    m = cls(I, H, fused=fused, dtype=dtype, **layer_kwargs(case), **extra)
    m.load_state_dict({k[6:]: v.astype(dtype) for k, v in a.items() if k.startswith("param/")})
    x = tc.Tensor(a["x"].astype(dtype), requires_grad=True)
    states = [tc.Tensor(a[k].astype(dtype), requires_grad=True) for k in ("h0", "c0") if k in a]
    hx = None if not states else (tuple(states) if lstm else states[0])
    y, st = m(x, hx, lengths=a.get("lengths"))
    h_n, c_n = st if lstm else (st, None)
    loss = (y * tc.Tensor(a["wy"].astype(dtype))).sum() + (h_n * a["wh"].astype(dtype)).sum()
    if lstm:
        loss = loss + (c_n * a["wc"].astype(dtype)).sum()
    loss.backward()
    res = {"y": y.data, "h_n": h_n.data, "grad/x": x.grad}
    if lstm:
        res["c_n"] = c_n.data
    for k, s in zip(("h0", "c0"), states, strict=False):
        res["grad/" + k] = s.grad
    res.update(_grads({n: p.grad for n, p in m.named_parameters()}))
    return res, m
