"""Every bad input to train-charlm / sample / demo / reproduce: `error: ...` naming the option
and the rule, exit 2, nothing written; and the input handling that goes with it (streamed
--text, encodings, greedy sampling)."""

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from _charlm_helpers import ROOT, SMALL, write_text

from tinyclipnn import load, save
from tinyclipnn.cli import main


@pytest.fixture()
def text_file(tmp_path):
    return write_text(tmp_path)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    d = tmp_path_factory.mktemp("ck")
    assert main(["train-charlm", "--text", str(write_text(d)), "--steps", "2", *SMALL,
                 "--out", str(d / "run")]) == 0
    return d / "run" / "model.npz"


def _error(capsys, argv, *words):
    try:
        code = main(argv)
    except SystemExit as e:  # refused by an argparse type= check while parsing
        code = e.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "error:" in err and "Traceback" not in err, err
    assert "allow_pickle" not in err, err
    for w in words:
        assert w in err, (w, err)
    return err


@pytest.mark.parametrize("args,word", [
    (["--steps", "-1"], "--steps"), (["--steps", "0"], "--steps"), (["--hidden", "0"], "--hidden"),
    (["--layers", "-2"], "--layers"), (["--seq-len", "0"], "--seq-len"),
    (["--batch-size", "0"], "--batch-size"), (["--max-chars", "0"], "--max-chars"),
    (["--lr", "-1"], "--lr"), (["--lr", "nan"], "--lr"), (["--seed", "-3"], "--seed"),
    (["--save-every", "0"], "--save-every"), (["--encoding", "klingon"], "--encoding"),
    (["--clip", "value:abc"], "--clip"), (["--clip", "norm:abc"], "--clip"),
    (["--clip", "zclip:alpha=abc"], "--clip"), (["--clip", "norm:-1"], "--clip"),
    (["--clip", "bogus"], "--clip"),
])
def test_bad_train_options(capsys, tmp_path, text_file, args, word):
    out = tmp_path / "out"
    _error(capsys, ["train-charlm", "--text", str(text_file), *SMALL, "--out", str(out), *args],
           word)
    assert not out.exists()


def test_bad_text_inputs(capsys, tmp_path):
    out = tmp_path / "out"
    base = ["train-charlm", *SMALL, "--out", str(out), "--text"]
    _error(capsys, [*base, str(tmp_path)], "--text", "folder")
    _error(capsys, [*base, str(tmp_path / "missing.txt")], "--text", "no such file")
    (tmp_path / "bin").write_bytes(bytes(range(256)) * 50)
    _error(capsys, [*base, str(tmp_path / "bin")], "--text", "--encoding")
    (tmp_path / "nul").write_bytes(b"abc\x00def" * 1000)
    _error(capsys, [*base, str(tmp_path / "nul")], "binary")
    (tmp_path / "short").write_text("hello world " * 5)
    err = _error(capsys, [*base, str(tmp_path / "short")], "60 characters", "--seq-len")
    assert "100" in err  # the total needed, not the validation split's length
    (tmp_path / "empty").write_text("")
    _error(capsys, [*base, str(tmp_path / "empty")], "empty")
    assert not out.exists()


def test_out_that_is_a_file(capsys, tmp_path, text_file):
    (tmp_path / "f").write_text("keep")
    _error(capsys, ["train-charlm", "--text", str(text_file), *SMALL, "--out",
                    str(tmp_path / "f")], "--out", "is a file")
    assert (tmp_path / "f").read_text() == "keep"


def test_latin1_text_needs_and_takes_encoding(capsys, tmp_path):
    p = tmp_path / "latin.txt"
    p.write_bytes(("café naïve résumé " * 60).encode("latin-1"))
    base = ["train-charlm", "--text", str(p), "--steps", "1", *SMALL]
    _error(capsys, [*base, "--out", str(tmp_path / "a")], "utf-8", "--encoding latin-1")
    assert main([*base, "--encoding", "latin-1", "--out", str(tmp_path / "b")]) == 0
    vocab = {chr(c) for c in load(tmp_path / "b" / "model.npz")["vocab"]}
    assert {"é", "ï"} <= vocab and "\ufffd" not in vocab


def test_text_is_streamed_up_to_max_chars(tmp_path):
    """/dev/zero has no end: reading stops at --max-chars (and is then refused as binary)."""
    code = ("import resource, sys\n"
            "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
            "from tinyclipnn.cli import main\n"
            "sys.exit(main(['train-charlm', '--text', '/dev/zero', '--max-chars', '100000',"
            f" '--out', {str(tmp_path / 'o')!r}]))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 2 and "binary" in r.stderr and "MemoryError" not in r.stderr
    from tinyclipnn.lab.textfile import read_text_file

    big = tmp_path / "big.txt"
    big.write_text("abcdefghij" * 100_000)
    assert len(read_text_file(big, 12_345)) == 12_345


def _crafted(tmp_path, ckpt, name, edit):
    state = load(ckpt)
    edit(state)
    save(state, tmp_path / name)
    return str(tmp_path / name)


def test_bad_checkpoints(capsys, tmp_path, ckpt):
    _error(capsys, ["sample", str(tmp_path)], "model.npz")  # a folder without one
    (tmp_path / "trunc.npz").write_bytes(ckpt.read_bytes()[:300])
    _error(capsys, ["sample", str(tmp_path / "trunc.npz")], "trunc.npz")
    (tmp_path / "rand.npz").write_bytes(np.random.default_rng(0).bytes(5000))
    _error(capsys, ["sample", str(tmp_path / "rand.npz")], "not a tinyclipnn checkpoint")
    np.save(tmp_path / "arr.npy", np.ones(3))
    _error(capsys, ["sample", str(tmp_path / "arr.npy")], ".npy")
    np.save(tmp_path / "obj.npy", np.array([None, 1], dtype=object), allow_pickle=True)
    _error(capsys, ["sample", str(tmp_path / "obj.npy")])
    np.savez(tmp_path / "obj.npz", a=np.array([None, 1], dtype=object))
    _error(capsys, ["sample", str(tmp_path / "obj.npz")])
    _error(capsys, ["sample", _crafted(tmp_path, ckpt, "nocfg.npz",
                                       lambda s: s.pop("config"))], "config")
    _error(capsys, ["sample", _crafted(tmp_path, ckpt, "nomodel.npz",
                                       lambda s: s["model"].pop("head.bias"))], "head.bias")

    def huge(s):
        s["config"]["hidden"] = 60000

    _error(capsys, ["sample", _crafted(tmp_path, ckpt, "huge.npz", huge)], "do not match")


def test_bad_sample_options(capsys, ckpt):
    _error(capsys, ["sample", str(ckpt), "--length", "-5"], "--length")
    _error(capsys, ["sample", str(ckpt), "--temperature", "-1"], "--temperature")
    _error(capsys, ["sample", str(ckpt), "--temperature", "nan"], "--temperature")
    _error(capsys, ["sample", str(ckpt), "--prompt", "QX€"], "--prompt", "'Q'", "'€'")


def test_greedy_sampling_and_run_folder(capsys, ckpt):
    outs = []
    for seed in ("0", "1"):
        assert main(["sample", str(ckpt.parent), "--temperature", "0", "--length", "30",
                     "--prompt", "the", "--seed", seed]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] and outs[0].startswith("the") and len(outs[0]) == 34


def test_metrics_of_a_refused_run_are_untouched(capsys, ckpt):
    metrics = (ckpt.parent / "metrics.json").read_text()
    _error(capsys, ["train-charlm", "--out", str(ckpt.parent), "--steps", "1"], "--resume")
    assert (ckpt.parent / "metrics.json").read_text() == metrics
    assert json.loads(metrics)["meta"]["command"] == "train-charlm"


def test_truncated_zip_member_is_a_clean_error(tmp_path):
    save({"w": np.arange(100_000.0)}, tmp_path / "a.npz")
    with zipfile.ZipFile(tmp_path / "a.npz") as z:
        names = z.namelist()
    assert "w" in {n.removesuffix(".npy") for n in names}
    data = (tmp_path / "a.npz").read_bytes()
    (tmp_path / "b.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="b.npz"):
        load(tmp_path / "b.npz")


def test_out_of_memory_is_a_message(capsys, monkeypatch, tmp_path):
    import tinyclipnn.lab.charlm as charlm

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(charlm, "CharLM", no_memory)
    assert main(["train-charlm", "--text", str(write_text(tmp_path)), *SMALL, "--out",
                 str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "error: out of memory" in err and "--hidden" in err and "Traceback" not in err


# --- issue 22: option values refused while parsing (tinyclipnn/_cli_args.py) --------------

def test_sample_seed_must_be_a_non_negative_integer(capsys, ckpt):
    _error(capsys, ["sample", str(ckpt), "--seed", "-1"], "--seed", "integer >= 0", "'-1'")
    _error(capsys, ["sample", str(ckpt), "--seed", "x"], "--seed", "integer >= 0")


@pytest.mark.parametrize("args,words", [
    (["--lengths", "abc"], ("--lengths", "comma-separated list of integers", "'abc'")),
    (["--lengths", "50,,100"], ("--lengths", "no empty item")),
    (["--lengths", ""], ("--lengths",)),
    (["--lengths", "-50"], ("--lengths", ">= 1")),
    (["--tasks", ""], ("--tasks", "no empty item", "''")),
    (["--tasks", "addition,"], ("--tasks", "no empty item")),
    (["--methods", " "], ("--methods",)),
    (["--seeds", "0"], ("--seeds", "integer >= 1")),
    (["--seeds", "two"], ("--seeds", "integer >= 1", "'two'")),
    (["--max-steps", "0"], ("--max-steps", "integer >= 1")),
    (["--max-length", "-3"], ("--max-length", "integer >= 1")),
    (["--workers", "-1"], ("--workers", "integer >= 0")),
    (["--dask-local", "0"], ("--dask-local", "integer >= 1")),
    (["--scheduler", ""], ("--scheduler", "must not be empty")),
    (["--scheduler", "tcp://h:1", "--dask-local", "2"], ("--dask-local", "--scheduler")),
])
def test_bad_reproduce_options(capsys, tmp_path, args, words):
    out = tmp_path / "out"
    _error(capsys, ["reproduce", "pascanu", "--report-only", "--out", str(out), *args], *words)
    assert not out.exists()


def test_empty_lists_are_not_the_defaults():
    from tinyclipnn.lab.reproduce import grid

    for name in ("tasks", "lengths", "methods"):
        with pytest.raises(ValueError, match=f"{name} must not be empty"):
            grid("quick", **{name: []})
    assert len(grid("quick", tasks=None)) == len(grid("quick"))


def test_demo_seed_must_be_a_non_negative_integer(capsys, tmp_path):
    _error(capsys, ["demo", "stability", "--quick", "--seed", "-1", "--out",
                    str(tmp_path / "d")], "--seed", "integer >= 0")
    assert not (tmp_path / "d").exists()


OUT_COMMANDS = {
    "demo": ["demo", "stability", "--quick", "--quiet"],
    "reproduce": ["reproduce", "pascanu", "--report-only", "--quiet"],
    "train-charlm": ["train-charlm", "--steps", "1", *SMALL],
}


@pytest.mark.parametrize("command", OUT_COMMANDS)
def test_out_must_be_a_writable_folder(capsys, tmp_path, command):
    """Before: [Errno 17] / [Errno 20] / [Errno 2] from deep inside, or (--out '') the
    current folder; now the option and the rule, exit 2, nothing written."""
    argv = OUT_COMMANDS[command]
    if command == "train-charlm":
        argv = [*argv, "--text", str(write_text(tmp_path))]
    (tmp_path / "f").write_text("keep")
    before = sorted(os.listdir(tmp_path))
    _error(capsys, [*argv, "--out", str(tmp_path / "f")], "--out", "must be a folder",
           "is a file")
    _error(capsys, [*argv, "--out", str(tmp_path / "f" / "sub")], "--out", "must be a folder",
           "is a file")
    _error(capsys, [*argv, "--out", ""], "--out", "must be a folder")
    if os.path.isdir("/proc"):
        _error(capsys, [*argv, "--out", "/proc/x"], "--out", "/proc/x is not writable",
               "/proc")
    assert sorted(os.listdir(tmp_path)) == before  # no probe or output left behind
    assert (tmp_path / "f").read_text() == "keep"


def test_out_check_leaves_nothing_in_a_good_folder(tmp_path):
    from tinyclipnn.cli import build_parser

    args = build_parser().parse_args(["demo", "--out", str(tmp_path / "new" / "deeper")])
    assert args.out == str(tmp_path / "new" / "deeper") and not (tmp_path / "new").exists()
    args = build_parser().parse_args(["demo", "--out", str(tmp_path)])
    assert args.out == str(tmp_path) and os.listdir(tmp_path) == []


@pytest.mark.parametrize("argv,word", [
    (["demo", ""], "name"),  # ran the flagship demo
    (["train-charlm", "--clip", ""], "--clip"),  # trained without clipping
    (["train-charlm", "--text", ""], "--text"),  # "--text  is a folder"
    (["train-charlm", "--resume", ""], "--resume"),  # ". is a folder without a model.npz"
    (["sample", ""], "checkpoint"),
])
def test_empty_values_are_refused_not_taken_as_a_default(capsys, tmp_path, argv, word):
    out = tmp_path / "out"
    _error(capsys, [*argv, "--out" if argv[0] != "sample" else "--prompt", str(out)], word,
           "must not be empty")
    assert not out.exists()


def test_list_options_parse_to_lists():
    from tinyclipnn.cli import build_parser

    args = build_parser().parse_args(["reproduce", "pascanu", "--tasks", "addition, torder",
                                      "--lengths", "50,100", "--methods", "sgd"])
    assert (args.tasks, args.lengths, args.methods) == (["addition", "torder"], [50, 100],
                                                        ["sgd"])
