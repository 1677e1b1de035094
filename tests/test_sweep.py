"""The sweep runner (tinyclipnn.lab.sweep): results, skip/resume on relaunch, killed workers
(local processes and a Dask LocalCluster of 2), failures, Ctrl-C (real SIGINTs), code
fingerprints and rerun. Multi-process runs go through tests/sweep_scenarios.py in a subprocess
under a timeout."""

import importlib
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _signals import ENV, ROOT, alive, finish, start, wait_for
from sweep_toy import counting_cell, expected, reporting_cell, toy_cell

from tinyclipnn.lab.sweep import Checkpoint, cell_key, run_sweep
from tinyclipnn.lab.sweep.cellio import read_result
from tinyclipnn.lab.sweep.display import SweepDisplay


def _command(name: str, out: Path) -> list[str]:
    return [str(ROOT / "tests" / "sweep_scenarios.py"), name, str(out)]


def _scenario(name: str, out: Path, timeout: float = 180) -> dict:
    proc = subprocess.run([sys.executable, *_command(name, out)], env=ENV, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "stderr": proc.stderr}


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


# -- Ctrl-C ----------------------------------------------------------------------------------

def _cells_files(out: Path) -> dict:
    return {str(p): p.stat().st_mtime_ns for p in sorted((out / "cells").rglob("*"))}


def _check_table_matches_disk(out: Path, rows: list[dict]) -> None:
    """Done rows (and only they) have a result, of the whole budget."""
    for r in rows:
        key = cell_key({k: r[k] for k in ("seed", "steps", "sleep", "catch")})
        result = read_result(out, key)
        assert (result is not None) == (r["status"] == "done"), r
        if result is not None:
            assert result["steps_run"] == r["steps"] and result["acc"] == expected(r["seed"], 40)


@pytest.mark.timeout(150)
@pytest.mark.parametrize("target", ["process group", "sweep process"])
def test_ctrl_c_never_passes_a_cut_cell_for_a_finished_one(tmp_path, target):
    """Ctrl-C while two cells run (one a loop that catches KeyboardInterrupt and returns
    normally, as the reported workers did): exit 130, the running cells recorded as interrupted
    with their progress and partial result, no result.json for them, no worker writing after
    the sweep returned; a relaunch resumes them from their checkpoints and says how many cells
    it reused; a third launch has nothing to run and says so."""
    proc = start(_command("interrupt", tmp_path))
    try:
        wait_for(lambda: sum(1 for _ in (tmp_path / "cells").glob("*/checkpoint.pkl")) >= 2,
                 60, proc)
        if target == "process group":  # as a terminal's Ctrl-C
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGINT)
    finally:
        stdout, stderr = finish(proc)
    assert proc.returncode == 130, stderr[-3000:]
    rows = json.loads(stdout.strip().splitlines()[-1])["rows"]
    _check_table_matches_disk(tmp_path, rows)
    cut = [r for r in rows if r["status"] == "interrupted"]
    assert {r["seed"] for r in cut} >= {0, 1}, rows  # the two running when Ctrl-C came
    for r in cut:
        step, steps = map(int, r["progress"].split("/"))
        assert 5 <= step < steps == 40 and "Ctrl-C" in r["reason"]
    catching = next(r for r in cut if r["seed"] == 1)
    assert catching["partial"]["steps_run"] < 40  # what it returned: kept apart, not done
    assert set(json.loads((tmp_path / "results.json").read_text())["rows"][0]) >= {"status"}
    snapshot = _cells_files(tmp_path)
    time.sleep(1.5)  # more than any cell's remaining steps: a worker left running would write
    assert _cells_files(tmp_path) == snapshot
    pids = {int(p.read_text()) for p in (tmp_path / "cells").glob("*/pid")}
    assert pids and not any(alive(pid) for pid in pids)

    done_before = sum(r["status"] == "done" for r in rows)
    res = _scenario("interrupt", tmp_path)
    _check_table_matches_disk(tmp_path, res["rows"])
    assert all(r["status"] == "done" for r in res["rows"])
    by_seed = {r["seed"]: r for r in res["rows"]}
    assert all(by_seed[r["seed"]]["resumed_from"] >= 5 for r in cut)  # from their checkpoints
    assert res["skipped"] == done_before
    if done_before:
        assert f"{done_before} of 4 cells from an earlier launch" in res["stderr"]
    again = _scenario("interrupt", tmp_path)
    assert again["skipped"] == 4
    assert "4 of 4 cells from an earlier launch, nothing to run; rerun=True (--rerun)" \
        in again["stderr"]


@pytest.mark.timeout(90)
def test_cells_deaf_to_ctrl_c_are_killed_after_the_grace_period(tmp_path):
    """Cells that ignore SIGINT: the sweep waits ``grace`` (1 s), kills their workers, marks
    them interrupted and exits 130 long before the cells would have finished (12 s)."""
    proc = start(_command("deaf", tmp_path))
    try:
        wait_for(lambda: sum(1 for _ in (tmp_path / "cells").glob("*/checkpoint.pkl")) >= 2,
                 60, proc)
        t0 = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
    finally:
        stdout, stderr = finish(proc)
    assert proc.returncode == 130, stderr[-3000:]
    assert time.monotonic() - t0 < 8
    rows = json.loads(stdout.strip().splitlines()[-1])["rows"]
    assert [r["status"] for r in rows] == ["interrupted", "interrupted"]
    assert all("worker was stopped" in r["reason"] for r in rows)
    assert not list((tmp_path / "cells").glob("*/result.json"))
    pids = {int(p.read_text()) for p in (tmp_path / "cells").glob("*/pid")}
    wait_for(lambda: not any(alive(pid) for pid in pids), 10)


def test_cell_cut_short_in_process_is_interrupted_not_done(tmp_path, capsys):
    """Inline (workers=0): a cell whose run_loop a KeyboardInterrupt cut short, or that returns
    interrupted=True, is recorded as interrupted and stops the sweep; a relaunch does not count
    it as done."""
    configs = [{"x": 1}, {"x": 2, "cut_loop": True}, {"x": 3}]
    res = run_sweep(reporting_cell, configs, tmp_path, workers=0, quiet=True)
    assert res.interrupted and [r["status"] for r in res.rows] == ["done", "interrupted",
                                                                   "not run"]
    assert res.rows[1]["partial"] == {"steps_run": 2}
    assert read_result(tmp_path, cell_key(configs[1])) is None
    res = run_sweep(reporting_cell, [{"x": 4, "interrupted": True}], tmp_path / "b", workers=0,
                    quiet=True)
    assert res.rows[0]["status"] == "interrupted"
    capsys.readouterr()
    res = run_sweep(reporting_cell, configs[::2], tmp_path, workers=0, quiet=True)
    assert "1 of 2 cells from an earlier launch, 1 to run" in capsys.readouterr().err


def test_cached_relaunch_says_so_and_rerun_recomputes(tmp_path, capsys):
    configs = [{"x": x} for x in range(3)]
    log = tmp_path / "calls.log"
    run_sweep(counting_cell, configs, tmp_path, workers=0, quiet=True)
    assert log.read_text().split() == ["0", "1", "2"]
    capsys.readouterr()
    res = run_sweep(counting_cell, configs, tmp_path, workers=0, quiet=True)
    assert res.skipped == 3 and len(log.read_text().split()) == 3  # nothing ran...
    err = capsys.readouterr().err  # ...and it says so, even when quiet
    assert "3 of 3 cells from an earlier launch, nothing to run; rerun=True (--rerun)" in err
    res = run_sweep(counting_cell, configs, tmp_path, workers=0, quiet=True, rerun=True)
    assert res.skipped == 0 and len(log.read_text().split()) == 6
    assert [r["y"] for r in res.rows] == [0, 2, 4]
    assert "rerun: computing all 3 cells afresh (3 had results" in capsys.readouterr().err


def test_edited_cell_code_is_not_reused(tmp_path, monkeypatch, capsys):
    """A cached result is tied to the cell module's source: edit it and the cell runs again."""
    mod = tmp_path / "edited_cell_mod.py"
    mod.write_text("def cell(config, ckpt):\n    return {'v': 1}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    m = importlib.import_module("edited_cell_mod")
    out = tmp_path / "sweep"
    assert run_sweep(m.cell, [{"a": 1}], out, workers=0, quiet=True).rows[0]["v"] == 1
    mod.write_text("def cell(config, ckpt):\n    return {'v': 2}  # edited\n")
    importlib.invalidate_caches()
    m = importlib.reload(m)
    res = run_sweep(m.cell, [{"a": 1}], out, workers=0, quiet=True)
    assert res.rows[0]["v"] == 2 and res.stale == 1 and res.skipped == 0
    assert "1 of 1 cells were computed by other code" in capsys.readouterr().err


def test_result_without_fingerprint_is_not_reused(tmp_path):
    """A result.json written before fingerprints (e.g. a cut-off run an older version saved as
    finished) is run again, and so is an old checkpoint of unknown code."""
    cfg = {"seed": 2, "steps": 6, "sleep": 0.0}
    d = tmp_path / "cells" / cell_key(cfg)
    d.mkdir(parents=True)
    (d / "result.json").write_text(json.dumps({"acc": 123, "resumed_from": 0}))
    res = run_sweep(toy_cell, [cfg], tmp_path, workers=0, quiet=True)
    assert res.stale == 1 and res.rows[0]["acc"] == expected(2, 6)
    cfg2 = {**cfg, "seed": 3}
    d2 = tmp_path / "cells" / cell_key(cfg2)
    Checkpoint(d2).save({"step": 5, "acc": 0})  # a checkpoint without cell.json: unknown code
    res = run_sweep(toy_cell, [cfg, cfg2], tmp_path, workers=0, quiet=True)
    assert res.skipped == 1 and res.rows[1]["resumed_from"] == 0
    assert res.rows[1]["acc"] == expected(3, 6)


def test_configs_that_print_alike_do_not_share_results(tmp_path):
    """Folder names are made of printed values: "a/b" and "a_b" get two folders (a hash is
    appended when characters were replaced); 0.1 and "0.1" share one, but the stored config is
    part of the cache key, so the second is computed, not served the first's result."""
    assert cell_key({"tag": "a/b"}) != cell_key({"tag": "a_b"}) == "tag=a_b"
    a, b = {"x": 1, "tag": 0.1}, {"x": 1, "tag": "0.1"}
    assert cell_key(a) == cell_key(b)
    assert run_sweep(counting_cell, [a], tmp_path, workers=0, quiet=True).rows[0]["y"] == 2
    res = run_sweep(counting_cell, [b], tmp_path, workers=0, quiet=True)
    assert res.skipped == 0 and res.stale == 1
    assert (tmp_path / "calls.log").read_text().split() == ["1", "1"]


def test_fingerprint_ignores_docstrings_comments_and_layout_not_code():
    """A long sweep's checkpoints survive an edit of a docstring or comment in the cell's module;
    any change to what the code does still makes the cells stale."""
    from tinyclipnn.lab.sweep.fingerprint import code_of

    base = b'"""Module doc."""\ndef cell(c, k):\n    """Doc."""\n    return {"x": c["a"] + 1}\n'
    same = (b'"""Module doc, reworded."""\n# a comment\ndef cell(c, k):\n    """Other doc."""\n\n'
            b'    return {"x": c["a"]+1}  # note\n')
    other = b'"""Module doc."""\ndef cell(c, k):\n    """Doc."""\n    return {"x": c["a"] + 2}\n'
    assert code_of(base) == code_of(same)
    assert code_of(base) != code_of(other)
    assert code_of(b"def broken(:\n") == b"def broken(:\n"
