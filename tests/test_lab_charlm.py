"""train-charlm / sample: checkpoint round trip on a tiny text, and the CLI commands."""

import numpy as np
import pytest

from tinyclipnn.cli import main
from tinyclipnn.lab.charlm import CharLMConfig, load_checkpoint, sample_checkpoint, train_charlm

TEXT = "the quick brown fox jumps over the lazy dog. " * 40


@pytest.fixture()
def text_file(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text(TEXT)
    return p


def test_train_save_load_sample(text_file, tmp_path):
    cfg = CharLMConfig(text=str(text_file), steps=6, hidden=16, seq_len=12, batch_size=4,
                       eval_every=3, eval_windows=4, clip="norm:0.5")
    r = train_charlm(cfg, tmp_path / "run", quiet=True, plot=False)
    assert r["steps"] == 6 and np.isfinite(r["val_bpc"])
    assert (tmp_path / "run" / "model.npz").exists()
    assert (tmp_path / "run" / "metrics.csv").read_text().count("\n") == 7
    model, vocab, cfg2 = load_checkpoint(tmp_path / "run" / "model.npz")
    assert len(vocab) == len(set(TEXT)) and int(cfg2["hidden"]) == 16
    for (k, a), (_, b) in zip(model.state_dict().items(), r["model"].state_dict().items(),
                              strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=k)
    s1 = sample_checkpoint(tmp_path / "run" / "model.npz", 30, prompt="the", seed=1)
    s2 = sample_checkpoint(tmp_path / "run" / "model.npz", 30, prompt="the", seed=1)
    assert s1 == s2 and s1.startswith("the") and len(s1) == 33
    assert set(s1) <= set(TEXT)


def test_cli_train_and_sample(text_file, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["train-charlm", "--text", str(text_file), "--steps", "3", "--hidden", "8",
                 "--seq-len", "8", "--batch-size", "2", "--clip", "value:1", "--quiet",
                 "--out", str(out)]) == 0
    assert (out / "model.npz").exists()
    capsys.readouterr()
    assert main(["sample", str(out / "model.npz"), "--length", "20", "--prompt", "fox"]) == 0
    assert capsys.readouterr().out.startswith("fox")
    assert main(["sample", str(tmp_path / "missing.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_ctrl_c_keeps_checkpoint(text_file, tmp_path, monkeypatch):
    """A Ctrl-C during step 2 lets that step finish, stops before step 3, and saves 3 steps."""
    import os
    import signal

    import tinyclipnn.lab.charlm as charlm

    real = charlm.random_windows
    calls = {"n": 0}

    def windows(*a, **k):
        calls["n"] += 1
        if calls["n"] == 4:  # 1st call: validation windows; then steps 0, 1; Ctrl-C in 2
            os.kill(os.getpid(), signal.SIGINT)
        return real(*a, **k)

    monkeypatch.setattr(charlm, "random_windows", windows)
    cfg = CharLMConfig(text=str(text_file), steps=50, hidden=8, seq_len=8, batch_size=2,
                       eval_windows=2)
    r = train_charlm(cfg, tmp_path / "int", quiet=True, plot=False)
    assert r["interrupted"] and r["steps"] == 3
    from tinyclipnn import load

    assert load(tmp_path / "int" / "model.npz")["step"] == 3
