"""An Embedding output fed straight into a fused recurrent layer is projected as a table
(``(E @ W_ih.T)[idx]``) and its gradient summed per table row: same outputs and gradients as
the composed path (and as the fused path when the lookup is observed by a hook)."""

import numpy as np
import pytest

import tinyclipnn as tc
from tinyclipnn import nn
from tinyclipnn.nn import _rnn_fused

CASES = [("LSTM", False, False), ("GRU", True, False), ("RNN", True, True), ("LSTM", True, True)]


def _model(kind, batch_first, bidirectional, fused, seed=0):
    tc.manual_seed(seed)
    emb = nn.Embedding(7, 5, dtype=np.float64)
    rnn = getattr(nn, kind)(5, 4, batch_first=batch_first, bidirectional=bidirectional,
                            fused=fused, dtype=np.float64)
    return emb, rnn


def _run(emb, rnn, idx, lengths=None, hook=False):
    x = emb(idx)
    if hook:
        x.register_hook(lambda g: None)  # an observer: the lookup must stay as it is
    y, _ = rnn(x, lengths=lengths)
    (y * tc.tensor(np.linspace(-1, 1, y.data.size).reshape(y.shape))).sum().backward()
    return [y.data] + [p.grad for p in (*emb.parameters(), *rnn.parameters())]


@pytest.mark.parametrize("kind,batch_first,bidirectional", CASES)
def test_lookup_projected_as_a_table_matches_the_composed_path(kind, batch_first,
                                                                bidirectional, monkeypatch):
    seen = []
    real = _rnn_fused._embedding_lookup
    monkeypatch.setattr(_rnn_fused, "_embedding_lookup",
                        lambda x, w: seen.append(real(x, w)) or seen[-1])
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 6, (3, 6) if batch_first else (6, 3))  # row 6 never looked up
    lengths = np.array([6, 2, 4])
    for lens in (None, lengths):
        fused = _run(*_model(kind, batch_first, bidirectional, True), idx, lens)
        assert seen and all(s is not None for s in seen)  # the table path ran
        seen.clear()
        composed = _run(*_model(kind, batch_first, bidirectional, False), idx, lens)
        hooked = _run(*_model(kind, batch_first, bidirectional, True), idx, lens, hook=True)
        assert seen and all(s is None for s in seen)  # observed: the plain fused path ran
        seen.clear()
        for a, b, c in zip(fused, composed, hooked, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-12)
        assert not fused[1][6].any()  # a row never looked up gets no gradient


def test_lookup_table_path_gradcheck_and_padding_idx_keeps_the_lookup():
    emb, rnn = _model("GRU", True, False, True)
    idx = np.random.default_rng(2).integers(0, 7, (2, 4))

    def f(w):
        out, _ = rnn(_rnn_fused_lookup(w, idx))
        return out

    def _rnn_fused_lookup(w, i):
        from tinyclipnn.nn.layers import _EmbeddingFn

        return _EmbeddingFn.apply(w, idx=i, padding_idx=None)

    assert tc.gradcheck(f, [emb.weight])
    padded = nn.Embedding(7, 5, padding_idx=3, dtype=np.float64)
    assert _rnn_fused._embedding_lookup(padded(idx[:, :]).transpose(0, 1),
                                        rnn.weight_ih_l0) is None


def test_scatter_add_rows_matches_add_at_and_checks_indices():
    from tinyclipnn.kernels.cpu.scatter import scatter_add_rows

    rng = np.random.default_rng(3)
    idx = rng.integers(0, 5, 40)
    rows = rng.standard_normal((40, 9)).astype(np.float32)
    want = np.zeros((6, 9), np.float32)
    np.add.at(want, idx, rows)
    np.testing.assert_array_equal(scatter_add_rows(6, idx, rows), want)  # same order, same sum
    with pytest.raises(ValueError, match="indices"):
        scatter_add_rows(3, idx, rows)
