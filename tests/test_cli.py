import json
import subprocess
import sys

import pytest

from tinyclipnn.cli import build_parser, main


def test_help_and_version(capsys):
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert "tinyclipnn 0.1.0" in capsys.readouterr().out


def test_demo_list(capsys):
    assert main(["demo", "--list"]) == 0
    out = capsys.readouterr().out
    assert "exploding" in out and "(default)" in out and "cliff" in out


def test_demo_default_is_flagship():
    args = build_parser().parse_args(["demo"])
    assert args.name is None and not args.quick and args.seed == 0


def test_unknown_demo_is_a_clean_error(capsys):
    assert main(["demo", "nope"]) == 2
    assert "demo must be one of" in capsys.readouterr().err


def test_bad_clip_spec_is_a_clean_error(capsys, tmp_path):
    assert main(["train-charlm", "--clip", "bogus:1", "--steps", "1",
                 "--out", str(tmp_path)]) == 2
    assert "--clip method must be one of" in capsys.readouterr().err


def test_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for word in ("numpy", "numba", "clipping backends", "threads", "kernel cache"):
        assert word in out


def test_demo_runs_and_writes_outputs(tmp_path, capsys):
    out = tmp_path / "stab"
    assert main(["demo", "stability", "--quick", "--quiet", "--seed", "1",
                 "--out", str(out)]) == 0
    assert (out / "metrics.csv").exists() and (out / "metrics.json").exists()
    doc = json.loads((out / "summary.json").read_text())
    assert doc["demo"] == "stability" and doc["quick"] and doc["seed"] == 1


def test_python_dash_m_entry_point():
    r = subprocess.run([sys.executable, "-m", "tinyclipnn", "demo", "--list"],
                       capture_output=True, text=True, check=True)
    assert "cliff" in r.stdout
