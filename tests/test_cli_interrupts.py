"""Ctrl-C for real (SIGINT to a running ``tinyclipnn`` command): exit status 130, and what the
command finished is written, also when the Ctrl-C lands after the last step; a checkpoint and
its metrics stay one unit through any number of Ctrl-Cs, so ``--resume`` leaves no gap.
Each command runs through tests/interrupt_scenarios.py, whose hook says when to press."""

import csv
import json
import os
import signal
import time

import pytest
from _charlm_helpers import SMALL, write_text
from _signals import ROOT, finish, start, wait_for

from tinyclipnn import load
from tinyclipnn.cli import main
from tinyclipnn.lab.plotting import have_matplotlib
from tinyclipnn.lab.sweep import cell_key

SCENARIOS = str(ROOT / "tests" / "interrupt_scenarios.py")


def _run_and_interrupt(tmp_path, hook: str, args: list[str], ready=None,
                       signals: int = 1) -> tuple[int, str, str]:
    """Start ``tinyclipnn ARGS`` with ``hook``, wait until ``ready()`` (default: the hook's
    READY file), press Ctrl-C ``signals`` times (to the process group, as a terminal does)."""
    flag = tmp_path / "READY"
    proc = start([SCENARIOS, hook, str(flag), *args])
    try:
        wait_for(ready or flag.exists, 90, proc)
        for k in range(signals):
            if k:
                time.sleep(0.02)
            os.killpg(proc.pid, signal.SIGINT)
    finally:
        out, err = finish(proc)
    return proc.returncode, out, err


def _metrics_steps(folder) -> list[int]:
    with open(folder / "metrics.csv", newline="") as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


@pytest.mark.timeout(120)
def test_demo_interrupted_mid_training_exits_130_with_partial_results(tmp_path):
    """The reported case: `demo spirals` printed "interrupted: partial results" and exited 0."""
    out = tmp_path / "spirals"
    rc, stdout, err = _run_and_interrupt(tmp_path, "slow-steps",
                                         ["demo", "spirals", "--quick", "--out", str(out)])
    assert rc == 130, err[-3000:]
    assert "interrupted: partial results" in stdout
    doc = json.loads((out / "summary.json").read_text())
    assert doc["interrupted"] and doc["partial"] and doc["summary"]["interrupted"]
    steps = _metrics_steps(out)
    assert 20 <= len(steps) < 300 and steps == list(range(len(steps)))
    if have_matplotlib():
        assert (out / "spirals_traces.png").exists() and (out / "spirals_regions.png").exists()


@pytest.mark.timeout(120)
def test_ctrl_c_after_the_last_step_still_writes_everything(tmp_path):
    """The reported case: Ctrl-C just after the demo's last step exited 130 with nothing in
    --out. Now: 130, all 300 steps' metrics, both figures and summary.json."""
    out = tmp_path / "spirals"
    rc, stdout, err = _run_and_interrupt(tmp_path, "pause-after-loop",
                                         ["demo", "spirals", "--quick", "--out", str(out)])
    assert rc == 130, err[-3000:]
    assert _metrics_steps(out) == list(range(300))
    doc = json.loads((out / "summary.json").read_text())
    assert doc["interrupted"] and not doc["partial"] and doc["summary"]["steps"] == 300
    assert "results complete" in stdout
    if have_matplotlib():
        assert (out / "spirals_traces.png").exists() and (out / "spirals_regions.png").exists()


@pytest.mark.timeout(150)
def test_default_demo_sweep_interrupted_exits_130_and_no_cell_passes_for_finished(tmp_path):
    """`tinyclipnn demo` (the flagship's sweep on worker processes): Ctrl-C while cells run
    exits 130; summary.json says interrupted; the sweep table agrees with the cell folders
    (a result.json only for done cells) and no worker writes anything afterwards."""
    out = tmp_path / "exploding"
    cells = out / "sweep" / "cells"
    rc, _, err = _run_and_interrupt(
        tmp_path, "none", ["demo", "--quick", "--quiet", "--out", str(out)],
        ready=lambda: any(cells.glob("*/progress.json")))
    assert rc == 130, err[-3000:]
    doc = json.loads((out / "summary.json").read_text())
    assert doc["interrupted"] and doc["partial"] and doc["summary"]["not_run"] >= 1
    rows = json.loads((out / "sweep" / "results.json").read_text())["rows"]
    assert any(r["status"] != "done" for r in rows)
    done_on_disk = {d.name for d in cells.iterdir() if (d / "result.json").exists()}
    done_in_table = {cell_key({k: r[k] for k in ("seed", "method", "steps", "n_eval")})
                     for r in rows if r["status"] == "done"}
    assert done_on_disk == done_in_table
    before = sorted(p.name for p in cells.rglob("*"))
    time.sleep(2.5)  # longer than a quick cell: a worker left running would write its result
    assert sorted(p.name for p in cells.rglob("*")) == before


@pytest.mark.timeout(150)
def test_ctrl_c_storm_during_the_checkpoint_write_leaves_no_gap_on_resume(tmp_path):
    """The reported case: a second Ctrl-C 0.02 s after the first split the checkpoint (step
    4845) from metrics.csv (4800 rows) and left metrics.csv.tmp; --resume then lost steps
    4800-4844 for good. Here four Ctrl-Cs land while the final checkpoint + metrics are being
    written: both are complete and agree, no temporary file is left, and --resume continues
    with every step's metrics."""
    text = write_text(tmp_path)
    out = tmp_path / "run"
    flag = tmp_path / "READY"
    go = tmp_path / "READY.go"
    proc = start([SCENARIOS, "pause-in-metrics-save", str(flag), "train-charlm", "--text",
                  str(text), "--steps", "100000", "--save-every", "3", *SMALL,
                  "--out", str(out)])
    try:
        wait_for((out / "model.npz").exists, 90, proc)
        os.killpg(proc.pid, signal.SIGINT)
        go.write_text("")  # the next metrics write pauses: the final checkpoint + metrics
        wait_for(flag.exists, 30, proc)
        for _ in range(4):
            time.sleep(0.02)
            os.killpg(proc.pid, signal.SIGINT)
    finally:
        _, err = finish(proc)
    assert proc.returncode == 130, err[-3000:]
    assert not [p.name for p in out.iterdir() if "tmp" in p.name]
    step = load(out / "model.npz")["step"]
    assert step >= 3
    assert _metrics_steps(out) == list(range(step))
    doc = json.loads((out / "metrics.json").read_text())
    assert [r["step"] for r in doc["steps"]] == list(range(step))
    go.unlink()
    assert main(["train-charlm", "--resume", str(out), "--steps", str(step + 3), "--quiet"]) == 0
    assert _metrics_steps(out) == list(range(step + 3))
    assert load(out / "model.npz")["step"] == step + 3


@pytest.mark.timeout(120)
def test_train_charlm_ctrl_c_after_the_last_step_keeps_plot_and_exits_130(tmp_path):
    text = write_text(tmp_path)
    out = tmp_path / "run"
    rc, _, err = _run_and_interrupt(
        tmp_path, "pause-in-plot",
        ["train-charlm", "--text", str(text), "--steps", "6", *SMALL, "--out", str(out)])
    assert rc == 130, err[-3000:]
    assert load(out / "model.npz")["step"] == 6 and _metrics_steps(out) == list(range(6))
    if have_matplotlib():
        assert (out / "charlm_traces.png").exists()


def test_every_command_exits_130_even_when_its_loop_caught_the_ctrl_c(monkeypatch, capsys):
    """A command whose code catches the KeyboardInterrupt and returns normally (as training
    loops do) still exits 130: the CLI counts every SIGINT."""
    import tinyclipnn.lab.registry as registry
    from tinyclipnn.lab.registry import DemoResult

    def run_demo(name, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        except KeyboardInterrupt:
            pass
        return DemoResult(name)

    monkeypatch.setattr(registry, "run_demo", run_demo)
    assert main(["demo", "spirals", "--quick", "--quiet"]) == 130


def test_reproduce_says_what_it_reuses_and_rerun_recomputes(tmp_path, capsys):
    out = tmp_path / "p"
    args = ["reproduce", "pascanu", "--tasks", "addition", "--methods", "sgd", "--max-steps",
            "3", "--workers", "0", "--quiet", "--out", str(out)]
    assert main(args) == 0
    first = json.loads((out / "results.json").read_text())["rows"][0]
    capsys.readouterr()
    assert main(args) == 0
    assert "1 of 1 cells from an earlier launch, nothing to run; rerun=True (--rerun)" in \
        capsys.readouterr().err
    assert main(args + ["--rerun"]) == 0
    assert "rerun: computing all 1 cells afresh" in capsys.readouterr().err
    again = json.loads((out / "results.json").read_text())["rows"][0]
    assert again["status"] == "done" and again["steps"] == first["steps"] == 3
