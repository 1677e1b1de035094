"""Helpers for tests that press Ctrl-C for real: start a command in its own session (so a
signal to its process group reaches it and its children only), wait for a moment it reports,
send SIGINT, collect the exit status, and never leave a process behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))


def start(args: list[str]) -> subprocess.Popen:
    """``python ARGS...`` in a new session, output captured as text."""
    return subprocess.Popen([sys.executable, *args], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for(predicate, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Poll ``predicate`` every 20 ms; fail on timeout, or if ``proc`` ended first."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError("the process ended first: " + proc.communicate()[1][-3000:])
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[str, str]:
    """Its (stdout, stderr) once it exits; its whole process group is killed if it hangs."""
    try:
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie has stopped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
