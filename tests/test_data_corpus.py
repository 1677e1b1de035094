import numpy as np
import pytest

from tinyclipnn.data import CharVocab, load_text, random_windows, stdlib_corpus, train_val_split


def test_stdlib_corpus_is_deterministic_and_sized():
    a = stdlib_corpus(20_000)
    assert len(a) == 20_000
    assert a == stdlib_corpus(20_000)
    assert "def " in a or "import" in a


def test_corpus_from_custom_root(tmp_path):
    (tmp_path / "b.py").write_text("bbb")
    (tmp_path / "a.py").write_text("aaa")
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "c.py").write_text("ccc")
    assert stdlib_corpus(100, root=tmp_path) == "aaabbb"
    with pytest.raises(FileNotFoundError):
        stdlib_corpus(100, root=tmp_path / "missing")


def test_load_text_file(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("hello world")
    assert load_text(p) == "hello world"
    assert load_text(p, max_chars=5) == "hello"


def test_vocab_roundtrip():
    v = CharVocab.from_text("hello world")
    assert len(v) == 8 and v.itos[0] == " "
    ids = v.encode("hello")
    assert ids.dtype == np.int64
    assert v.decode(ids) == "hello"
    assert CharVocab.from_array(v.to_array()).itos == v.itos
    with pytest.raises(ValueError, match="not in the vocabulary"):
        v.encode("z")


def test_random_windows_targets_are_shifted_inputs():
    ids = np.arange(100)
    x, y = random_windows(ids, 4, 10, np.random.default_rng(0))
    assert x.shape == (10, 4) and y.shape == (10, 4)
    np.testing.assert_array_equal(y, x + 1)
    x2, _ = random_windows(ids, 4, 10, np.random.default_rng(0))
    np.testing.assert_array_equal(x, x2)
    with pytest.raises(ValueError):
        random_windows(ids[:5], 1, 10, np.random.default_rng(0))


def test_train_val_split():
    tr, va = train_val_split(np.arange(100), 0.2)
    assert len(tr) == 80 and len(va) == 20
