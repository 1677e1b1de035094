"""Stopping a long `reproduce pascanu` sweep launched in the background, for real: started with
SIGINT ignored (what ``cmd &`` from a script gives it), ``kill -INT`` and ``kill`` (SIGTERM) to
its process alone still stop it as Ctrl-C does (exit 130, the running cell saves and records
itself as interrupted, no worker left running), and the same command resumes it from the
cell's checkpoint."""

import json
import signal
import subprocess
import sys
import time

import pytest
from _signals import ENV, finish, wait_for


def _launch(out, cap: int) -> subprocess.Popen:
    args = ["-m", "tinyclipnn", "reproduce", "pascanu", "--grid", "fig7-smart", "--lengths",
            "50", "--methods", "sgd-cr", "--seeds", "1", "--max-steps", str(cap), "--workers",
            "1", "--quiet", "--out", str(out)]
    return subprocess.Popen([sys.executable, *args], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))


def _cell(out):
    cells = list((out / "cells").glob("*"))
    return cells[0] if len(cells) == 1 else None


def _stop_after_first_checkpoint(out, proc, sig) -> tuple[str, str]:
    wait_for(lambda: _cell(out) is not None and (_cell(out) / "checkpoint.pkl").exists(), 120,
             proc)
    proc.send_signal(sig)  # to the sweep's own process only, as `kill PID` does
    return finish(proc, timeout=90)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_background_sweep_stops_cleanly_and_resumes(tmp_path, sig):
    out = tmp_path / "sweep"
    proc = _launch(out, 6000)
    _, err = _stop_after_first_checkpoint(out, proc, sig)
    assert proc.returncode == 130, err[-3000:]
    cell = _cell(out)
    info = json.loads((cell / "interrupted.json").read_text())
    assert info["checkpoint"] and (cell / "checkpoint.pkl").exists()
    stopped_at = info["progress"]["step"]
    assert 1000 <= stopped_at < 6000
    time.sleep(0.5)  # the worker ended with the sweep: the checkpoint no longer moves
    mtime = (cell / "checkpoint.pkl").stat().st_mtime
    time.sleep(3)
    assert (cell / "checkpoint.pkl").stat().st_mtime == mtime
    if sig == signal.SIGTERM:
        return
    proc = _launch(out, 6000)  # the same command: resumes the cell from its checkpoint
    stdout, err = finish(proc, timeout=240)
    assert proc.returncode == 0, err[-3000:]
    assert "resuming from a checkpoint" in err
    row = json.loads((out / "results.json").read_text())["rows"][0]
    assert row["status"] == "done" and row["resumed_from"] >= 1000 and row["steps"] > 1000
