"""`tinyclipnn reproduce pascanu`: the grid, the paper's training cell (resume, fallback, Ω),
the summary that keeps unfinished runs apart, and a tiny end-to-end run through the CLI."""

import json

import numpy as np
import pytest

from tinyclipnn.cli import main
from tinyclipnn.data import get_task
from tinyclipnn.lab import pascanu
from tinyclipnn.lab.reproduce import grid, summarize
from tinyclipnn.lab.sweep import Checkpoint


def test_grid_order_and_validation():
    g = grid("session")
    assert len(g) == 2 * 2 * 4 * 3 and g[0]["seed"] == 0 and g[-1]["seed"] == 2
    assert {c["method"] for c in g} == set(pascanu.METHODS)
    assert grid("quick", tasks=["add"], max_steps=7)[0] == {
        "task": "addition", "length": 50, "method": "sgd", "seed": 0, "max_steps": 7,
        "check_every": 100, "n_check": 500}
    for kw, msg in [({"budget": "huge"}, "budget"), ({"methods": ["adam"]}, "methods"),
                    ({"lengths": [5]}, "lengths"), ({"seeds": 0}, "seeds"),
                    ({"tasks": ["nope"]}, "task"), ({"max_steps": 0}, "max_steps")]:
        with pytest.raises(ValueError, match=msg):
            grid(**{"budget": "quick", **kw})


def test_summary_counts_unfinished_runs_apart():
    base = {"task": "addition", "length": 50, "method": "sgd-cr"}
    rows = [{**base, "status": "done", "solved": True, "diverged": False, "steps": 40,
             "best_error": 0.0, "seconds": 1.0},
            {**base, "status": "done", "solved": False, "diverged": True, "steps": 9,
             "best_error": 0.3, "seconds": 1.0},
            {**base, "status": "not run"}, {**base, "status": "failed"}]
    e = summarize(rows)[("addition", 50, "sgd-cr")]
    assert (e["runs"], e["solved"], e["diverged"], e["not_finished"]) == (2, 1, 1, 2)
    assert e["success_rate"] == 0.5 and e["steps_to_solve"] == [40]


def test_smart_tanh_init_matches_the_paper():
    task = get_task("temporal_order")
    m = pascanu.build_model(task, "sgd-cr", pascanu.PAPER)
    pascanu.smart_tanh_(m, np.random.default_rng(0), pascanu.PAPER)
    w = m.rnn.weight_hh_l0.data.astype(np.float64)
    assert np.max(np.abs(np.linalg.eigvals(w))) == pytest.approx(0.95, rel=1e-5)
    assert ((w.T != 0).sum(axis=1) == 15).all()  # 15 non-zeros per row of theirs (W^T)
    assert not m.rnn.bias_ih_l0.requires_grad and not m.rnn.bias_hh_l0.data.any()
    assert m.rnn.vanishing_penalty == 2.0


def test_fallback_replaces_a_nonfinite_step():
    task = get_task("addition")
    m = pascanu.build_model(task, "sgd-c", pascanu.PAPER)
    params = [p for p in m.parameters() if p.requires_grad]
    for p in params:
        p.grad = np.ones_like(p.data)
    params[0].grad[0, 0] = np.inf
    w_hh = m.rnn.weight_hh_l0
    before = {id(p): p.data.copy() for p in params}
    norm, fell = pascanu._apply_update(params, m, pascanu.PAPER, clip=True)
    assert fell and not np.isfinite(norm)
    np.testing.assert_allclose(w_hh.data, before[id(w_hh)] * (1 - 0.01 * 0.02), rtol=1e-6)
    for p in params:
        if p is not w_hh:
            np.testing.assert_array_equal(p.data, before[id(p)])


def test_cell_resumes_exactly_from_its_checkpoint(tmp_path):
    cfg = {"task": "temporal_order", "length": 12, "method": "sgd-cr", "seed": 1,
           "check_every": 5, "n_check": 50}
    full = pascanu.train_cell({**cfg, "max_steps": 20}, Checkpoint(tmp_path / "a", every=5))
    part = pascanu.train_cell({**cfg, "max_steps": 10}, Checkpoint(tmp_path / "b", every=5))
    rest = pascanu.train_cell({**cfg, "max_steps": 20}, Checkpoint(tmp_path / "b", every=5))
    assert part["steps"] == 10 and rest["resumed_from"] == 10 and rest["steps"] == 20
    assert rest["history"] == full["history"]  # same data, same updates, same errors
    assert np.isfinite(full["omega"]) and full["omega"] >= 0


def test_cli_reproduce_quick_inline(tmp_path, capsys):
    out = tmp_path / "p"
    rc = main(["reproduce", "pascanu", "--tasks", "addition", "--methods", "sgd,sgd-cr",
               "--max-steps", "6", "--workers", "0", "--quiet", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "pascanu (quick): 2/2 runs finished" in text and "sgd-cr" in text
    doc = json.loads((out / "summary.json").read_text())
    assert [r["method"] for r in doc["results"]] == ["sgd", "sgd-cr"]
    assert all(r["runs"] == 1 and r["steps_per_run"] == 6 for r in doc["results"])
    assert (out / "results.csv").exists()
    assert main(["reproduce", "pascanu", "--methods", "adam", "--out", str(out)]) == 2


def test_report_only_runs_nothing_and_marks_unfinished(tmp_path, capsys):
    out = tmp_path / "p"
    args = ["reproduce", "pascanu", "--tasks", "addition", "--methods", "sgd,sgd-c",
            "--max-steps", "4", "--workers", "0", "--quiet", "--out", str(out)]
    assert main(args[:5] + ["sgd"] + args[6:]) == 0  # only sgd runs
    assert main(args + ["--report-only"]) == 0
    doc = json.loads((out / "summary.json").read_text())
    by = {r["method"]: r for r in doc["results"]}
    assert by["sgd"]["runs"] == 1 and by["sgd-c"]["runs"] == 0
    assert by["sgd-c"]["not_finished"] == 1
    assert not any((out / "cells").glob("*sgd-c*"))  # nothing was started


def test_length_sampling_option(tmp_path, monkeypatch):
    assert grid("quick", max_length=60)[0]["max_length"] == 60
    with pytest.raises(ValueError, match="max_length"):
        grid("quick", max_length=50)
    seen = []
    task = get_task("temporal_order")
    real = task.generate

    monkeypatch.setattr(type(task), "__call__",
                        lambda self, b, T, rng: (seen.append(T), real(b, T, rng))[1])
    cfg = {"task": "temporal_order", "length": 12, "max_length": 20, "method": "sgd-c",
           "seed": 0, "max_steps": 30, "check_every": 100, "n_check": 10}
    pascanu.train_cell(cfg, Checkpoint(tmp_path, every=100))
    assert min(seen) >= 12 and max(seen) < 20 and len(set(seen)) > 3
