"""The sweep runner (tinyclipnn.lab.sweep): results, skip/resume on relaunch, killed workers
(local processes and a Dask LocalCluster of 2), failures. Multi-process runs go through
tests/sweep_scenarios.py in a subprocess under a timeout."""

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from sweep_toy import expected

from tinyclipnn.lab.sweep import Checkpoint, cell_key
from tinyclipnn.lab.sweep.cellio import read_result
from tinyclipnn.lab.sweep.display import SweepDisplay

ROOT = Path(__file__).resolve().parents[1]


def _scenario(name: str, out: Path, timeout: float = 180) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "sweep_scenarios.py"), name,
                           str(out)], env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _check_rows(rows):
    for r in rows:
        assert r["status"] == "done", r
        assert r["acc"] == expected(r["seed"], r["steps"])


def test_local_sweep_then_relaunch_skips_done_and_resumes_interrupted(tmp_path):
    res = _scenario("plain", tmp_path)
    _check_rows(res["rows"])
    assert res["skipped"] == 0 and all(r["resumed_from"] == 0 for r in res["rows"])
    # simulate an interrupted cell: no result, a checkpoint at step 5
    cfg = {"seed": 2, "steps": 12, "sleep": 0.0}
    d = tmp_path / "cells" / cell_key(cfg)
    (d / "result.json").unlink()
    Checkpoint(d).save({"step": 5, "acc": expected(2, 5)})
    res = _scenario("plain", tmp_path)
    _check_rows(res["rows"])
    assert res["skipped"] == 3
    assert [r["resumed_from"] for r in res["rows"]] == [0, 0, 5, 0]
    assert not (d / "checkpoint.pkl").exists()  # removed once the result is written
    table = (tmp_path / "results.csv").read_text().splitlines()
    assert table[0].startswith("seed,steps,sleep,status,acc") and len(table) == 5


def test_local_worker_killed_mid_run(tmp_path):
    res = _scenario("kill-local", tmp_path)
    assert res["killed"], "the watcher never killed a worker"
    _check_rows(res["rows"])
    assert res["rows"][0]["resumed_from"] >= 5  # resumed from its checkpoint


def test_dask_local_cluster_worker_killed_mid_run(tmp_path):
    pytest.importorskip("distributed")
    res = _scenario("kill-dask", tmp_path, timeout=240)
    assert res["killed"], "the watcher never killed a worker"
    _check_rows(res["rows"])
    assert res["rows"][0]["resumed_from"] >= 5


def test_failing_cell_is_reported_not_fatal(tmp_path):
    res = _scenario("fail", tmp_path)
    _check_rows(res["rows"][:4])
    bad = res["rows"][4]
    assert bad["status"] == "failed" and "always fails" in bad["error"]
    assert read_result(tmp_path, cell_key({"seed": 9, "steps": 3, "fail": True})) is None


def test_checkpoint_roundtrip_and_due(tmp_path):
    ck = Checkpoint(tmp_path / "c", every=3)
    assert ck.load() is None
    ck.save({"step": 3})
    assert ck.load() == {"step": 3}
    assert [s for s in range(10) if ck.due(s)] == [3, 6, 9]
    (tmp_path / "c" / "checkpoint.pkl").write_bytes(pickle.dumps({"x": 1})[:5])  # torn write
    assert ck.load() is None
    with pytest.raises(ValueError, match="checkpoint_every"):
        Checkpoint(tmp_path, every=0)


def test_display_line_counts_and_eta():
    d = SweepDisplay(total=10, skipped=2, workers=2, quiet=True)
    line = d.line(done=4, running=[0.5, 0.25], failed=1)
    assert "4/10 cells done (2 from an earlier launch)" in line
    assert "2 running, 1 failed" in line and "ETA" in line
