"""train-charlm checkpoints: resume bit for bit, refuse to overwrite, Ctrl-C exits 130."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _charlm_helpers import ROOT, SMALL, write_text

from tinyclipnn import load
from tinyclipnn.cli import main
from tinyclipnn.lab.charlm import DEFAULT_OUT, CharLMConfig, train_charlm


@pytest.fixture()
def text_file(tmp_path):
    return write_text(tmp_path)


def _train(out, text_file, steps, *extra):
    return main(["train-charlm", "--text", str(text_file), "--steps", str(steps), *SMALL,
                 "--out", str(out), *extra])


def _assert_same_run(a: Path, b: Path) -> None:
    ca, cb = load(a / "model.npz"), load(b / "model.npz")
    assert ca["step"] == cb["step"]
    for k in ca["model"]:
        np.testing.assert_array_equal(ca["model"][k], cb["model"][k], err_msg=k)
    sa, sb = ca["state"]["optimizer"]["state"], cb["state"]["optimizer"]["state"]
    assert sa.keys() == sb.keys()
    for i in sa:
        for n in sa[i]:
            np.testing.assert_array_equal(sa[i][n], sb[i][n], err_msg=f"{i}/{n}")
    assert ca["state"]["clipper"] == cb["state"]["clipper"]
    assert ca["rng"] == cb["rng"]
    ma, mb = (np.loadtxt(d / "metrics.csv", delimiter=",", skiprows=1, usecols=(1, 2, 3),
                         dtype=float) for d in (a, b))
    np.testing.assert_array_equal(ma, mb)


@pytest.mark.parametrize("clip,optimizer", [("autoclip:50", "adam"),
                                            ("zclip:warmup_steps=2", "sgd")])
def test_resume_is_bit_identical_to_an_uninterrupted_run(text_file, tmp_path, clip, optimizer):
    opts = ["--clip", clip, "--optimizer", optimizer, "--lr", "0.5" if optimizer == "sgd"
            else "0.01"]
    assert _train(tmp_path / "full", text_file, 9, *opts) == 0
    assert _train(tmp_path / "part", text_file, 4, *opts) == 0
    assert load(tmp_path / "part" / "model.npz")["step"] == 4
    assert main(["train-charlm", "--resume", str(tmp_path / "part"), "--steps", "9",
                 "--quiet"]) == 0
    _assert_same_run(tmp_path / "full", tmp_path / "part")


def test_existing_checkpoint_is_refused_unless_resume_or_overwrite(text_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(out, text_file, 2) == 0
    before = (out / "model.npz").read_bytes()
    capsys.readouterr()
    assert _train(out, text_file, 1) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "--resume" in err and "--overwrite" in err
    assert (out / "model.npz").read_bytes() == before
    assert _train(out, text_file, 1, "--overwrite") == 0
    assert load(out / "model.npz")["step"] == 1


def test_resume_refuses_changed_options_and_fewer_steps(text_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(out, text_file, 3) == 0
    before = (out / "model.npz").read_bytes()
    capsys.readouterr()
    assert main(["train-charlm", "--resume", str(out), "--hidden", "16", "--steps", "5"]) == 2
    assert "--hidden" in capsys.readouterr().err
    assert main(["train-charlm", "--resume", str(out), "--steps", "2"]) == 2
    assert "--steps" in capsys.readouterr().err
    assert (out / "model.npz").read_bytes() == before


def test_resume_of_an_old_checkpoint_is_a_clean_error(text_file, tmp_path, capsys):
    from tinyclipnn import save

    out = tmp_path / "old"
    assert _train(out, text_file, 2) == 0
    c = load(out / "model.npz")
    save({k: c[k] for k in ("model", "vocab", "config", "step")}, out / "model.npz")
    assert main(["train-charlm", "--resume", str(out), "--steps", "4"]) == 2
    assert "cannot resume" in capsys.readouterr().err
    assert main(["sample", str(out), "--length", "5"]) == 0  # still good for sampling


def test_default_output_folder_is_its_own():
    assert DEFAULT_OUT == "runs/train-charlm"  # `demo charlm` writes runs/charlm


def test_ctrl_c_exits_130_after_saving_and_the_run_resumes_exactly(text_file, tmp_path):
    out = tmp_path / "int"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "tinyclipnn", "train-charlm", "--text", str(text_file),
           "--steps", "100000", "--save-every", "2", *SMALL, "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while not (out / "model.npz").exists() and time.time() < deadline:
            time.sleep(0.05)
        assert (out / "model.npz").exists(), proc.stderr.read1().decode() if proc.poll() else ""
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err.decode()
    step = load(out / "model.npz")["step"]
    assert 2 <= step < 100000
    cfg = CharLMConfig(text=str(text_file), steps=step + 2, hidden=8, seq_len=8, batch_size=2)
    train_charlm(cfg, tmp_path / "ref", quiet=True, plot=False)
    assert main(["train-charlm", "--resume", str(out), "--steps", str(step + 2),
                 "--quiet"]) == 0
    _assert_same_run(tmp_path / "ref", out)


def test_interrupted_demo_exits_130(monkeypatch):
    import tinyclipnn.lab.registry as registry
    from tinyclipnn.lab.loop import run_loop

    def run_demo(name, **kwargs):  # a demo whose loop is stopped by Ctrl-C
        def step(i):
            raise KeyboardInterrupt

        run_loop(step, 3, quiet=True)
        return object()

    monkeypatch.setattr(registry, "run_demo", run_demo)
    assert main(["demo", "spirals", "--quick", "--quiet"]) == 130
