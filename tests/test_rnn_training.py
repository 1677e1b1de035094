"""Clipping and gradient-norm recording inside BPTT, truncated BPTT, and long sequences."""

import numpy as np
import pytest

import tinyclipnn as tc
from tinyclipnn import nn


def _data(T, B, I, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal((T, B, I)).astype(dtype)


def _hook(t, mode, c, norms):
    def hook(g):
        norms[t] = np.linalg.norm(g, axis=1)
        if mode == "value":
            return np.clip(g, -c, c)
        n = np.linalg.norm(g, axis=1, keepdims=True)
        return g * np.where(n > c, c / np.maximum(n, 1e-300), 1.0)
    return hook


@pytest.mark.parametrize("mode,c", [("value", 0.02), ("norm", 0.05)])
def test_bptt_clip_equals_cells_with_register_hook(mode, c):
    """The fused kernel's in-BPTT clipping == a hand-written LSTMCell loop whose h_t and c_t
    carry register_hook clippers (and whose h_t hooks record ||dL/dh_t||)."""
    T, B, I, H = 7, 3, 2, 5
    x = _data(T, B, I)
    lstm = nn.LSTM(I, H, dtype=np.float64, bptt_clip=c, bptt_clip_mode=mode,
                   record_grad_norms=True)
    cell = nn.LSTMCell(I, H, dtype=np.float64)
    cell.load_state_dict({k[:-3]: v for k, v in lstm.state_dict().items()})
    xs = tc.Tensor(x, requires_grad=True)
    y, _ = lstm(xs)
    (y * y).sum().backward()

    xc = tc.Tensor(x, requires_grad=True)
    h = tc.Tensor(np.zeros((B, H)))
    cs = tc.Tensor(np.zeros((B, H)))
    norms, outs = np.zeros((T, B)), []
    for t in range(T):
        h, cs = cell(xc[t], (h, cs))
        h.register_hook(_hook(t, mode, c, norms))
        cs.register_hook(_hook(t, mode, c, np.zeros((T, B))))
        outs.append(h)
    yc = tc.stack(outs, axis=0)
    (yc * yc).sum().backward()

    np.testing.assert_allclose(y.data, yc.data, rtol=1e-12)
    np.testing.assert_allclose(xs.grad, xc.grad, rtol=1e-10, atol=1e-14)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        np.testing.assert_allclose(getattr(lstm, name + "_l0").grad, getattr(cell, name).grad,
                                   rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(lstm.grad_norms["l0"], norms, rtol=1e-10)
    unclipped = nn.LSTM(I, H, dtype=np.float64)
    unclipped.load_state_dict(lstm.state_dict())
    yu, _ = unclipped(tc.Tensor(x))
    (yu * yu).sum().backward()
    assert not np.allclose(unclipped.weight_hh_l0.grad, lstm.weight_hh_l0.grad)


def test_huge_clip_changes_nothing():
    x = tc.Tensor(_data(6, 2, 3))
    grads = []
    for clip in (None, 1e9):
        tc.manual_seed(0)
        m = nn.GRU(3, 4, dtype=np.float64, bptt_clip=clip, bptt_clip_mode="norm")
        y, h = m(x)
        ((y * y).sum() + h.sum()).backward()
        grads.append([p.grad for p in m.parameters()])
    for a, b in zip(*grads, strict=True):
        np.testing.assert_array_equal(a, b)


def test_record_grad_norms_layout_and_vanishing_picture():
    T, B = 30, 4
    m = nn.RNN(3, 16, num_layers=2, bidirectional=True, dtype=np.float64,
               record_grad_norms=True)
    for p in m.parameters():
        p.data *= 0.5  # contractive recurrence: gradients vanish going back in time
    lengths = np.array([30, 20, 30, 5])
    y, _ = m(tc.Tensor(_data(T, B, 3)), lengths=lengths)
    y[lengths - 1, np.arange(B)].sum().backward()  # loss on each sequence's last output
    assert sorted(m.grad_norms) == ["l0", "l0_reverse", "l1", "l1_reverse"]
    n = m.grad_norms["l1"]
    assert n.shape == (T, B) and n.dtype == np.float64
    assert np.all(n[20:, 1] == 0) and np.all(n[5:, 3] == 0)  # past each sequence's end
    assert n[29, 0] > 1e3 * n[0, 0] > 0  # vanishing gradient, forward direction
    first = m.grad_norms["l0"]
    y, _ = m(tc.Tensor(_data(T, B, 3, seed=1)))  # a new backward replaces the records
    (y.sum() * 0).backward()
    assert not np.shares_memory(first, m.grad_norms["l0"]) and np.all(m.grad_norms["l0"] == 0)


def test_truncated_bptt_with_detach():
    """Chunks of a long sequence, the state carried with ``.detach()`` so each backward stops at
    its chunk's start; training works, and a chunk's gradient equals that of the chunk run alone
    from a fresh copy of the carried state."""
    T, B, I, H, chunk = 40, 2, 3, 6, 10
    x = _data(T, B, I)
    target = np.sin(np.arange(T) / 3)[:, None, None] * np.ones((1, B, H))
    m = nn.LSTM(I, H, dtype=np.float64)
    opt = tc.optim.Adam(m.parameters(), lr=0.05)
    losses = []
    for _ in range(20):
        state, total = None, 0.0
        for s in range(0, T, chunk):
            opt.zero_grad()
            y, state = m(tc.Tensor(x[s:s + chunk]), state)
            loss = ((y - target[s:s + chunk]) ** 2).mean()
            loss.backward()
            opt.step()
            state = tuple(t.detach() for t in state)
            total += loss.item()
        losses.append(total)
    assert losses[-1] < 0.5 * losses[0]

    m.zero_grad()
    _, state = m(tc.Tensor(x[:chunk], requires_grad=True))
    carried = tuple(t.detach() for t in state)
    assert not carried[0].requires_grad
    y, _ = m(tc.Tensor(x[chunk:2 * chunk]), carried)
    ((y - target[chunk:2 * chunk]) ** 2).mean().backward()
    g_tbptt = [p.grad.copy() for p in m.parameters()]
    m.zero_grad()
    fresh = tuple(tc.Tensor(t.data.copy()) for t in carried)
    y, _ = m(tc.Tensor(x[chunk:2 * chunk]), fresh)
    ((y - target[chunk:2 * chunk]) ** 2).mean().backward()
    for a, p in zip(g_tbptt, m.parameters(), strict=True):
        np.testing.assert_array_equal(a, p.grad)


def test_3000_step_sequence_trains():
    """One node per layer: a 3,000-step sequence trains without recursion or memory blow-up."""
    T, B = 3000, 2
    m = nn.LSTM(2, 8, bptt_clip=1.0)
    head = nn.Linear(8, 1)
    opt = tc.optim.Adam(list(m.parameters()) + list(head.parameters()), lr=0.02)
    x = _data(T, B, 2, dtype=np.float32)
    target = np.cumsum(x[:, :, :1], axis=0) / np.sqrt(np.arange(1, T + 1))[:, None, None]
    losses = []
    for _ in range(8):
        opt.zero_grad()
        y, _ = m(tc.Tensor(x))
        loss = ((head(y) - target.astype(np.float32)) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


@pytest.mark.slow
def test_3000_step_composed_path_no_recursion_error():
    m = nn.GRU(2, 4, fused=False, dtype=np.float64)
    y, h = m(tc.Tensor(_data(3000, 1, 2)))
    h.sum().backward()
    assert np.all(np.isfinite(m.weight_hh_l0.grad))


def test_workspace_recycles_only_unreferenced_buffers():
    from tinyclipnn.kernels import runtime as ws

    a = ws.empty((300, 300), np.float32)
    view = a[1:]
    del a
    b = ws.empty((300, 300), np.float32)
    assert b.base is None and not np.shares_memory(b, view)  # a view keeps its owner busy
    del view
    c = ws.empty((300, 300), np.float32)
    assert not np.shares_memory(b, c)  # b itself is still held
    del c
    d_ptr = ws.empty((300, 300), np.float32).ctypes.data
    assert ws.empty((300, 300), np.float32).ctypes.data == d_ptr  # an idle buffer is reused


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_retained_graph_survives_later_steps(mode):
    """Saved buffers of a retained graph are never recycled by later steps' forward passes."""
    tc.manual_seed(0)
    m = getattr(nn, mode)(8, 64)
    rng = np.random.default_rng(0)
    x = tc.Tensor(rng.standard_normal((64, 32, 8), dtype=np.float32))

    def grads(loss):
        m.zero_grad()
        loss.backward(retain_graph=True)
        return [p.grad.copy() for p in m.parameters()]

    y, _ = m(x)
    loss = (y * y).mean()
    first = grads(loss)
    for _ in range(3):  # other steps, other inputs: would overwrite recycled buffers
        y2, _ = m(tc.Tensor(rng.standard_normal((64, 32, 8), dtype=np.float32)))
        (y2 * y2).mean().backward()
    for g, g0 in zip(grads(loss), first, strict=True):
        np.testing.assert_array_equal(g, g0)
