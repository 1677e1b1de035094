"""`tinyclipnn reproduce pascanu`: the grids (budgets and the issue-25 parts), the paper's
training cell (their three initialisations, both success rules, resume, fallback, Ω,
mixed-length training), the summary that keeps unfinished and capped runs apart, and tiny
end-to-end runs through the CLI."""

import json

import numpy as np
import pytest

from tinyclipnn.cli import main
from tinyclipnn.data import get_task
from tinyclipnn.lab import pascanu
from tinyclipnn.lab.reproduce import GRIDS, grid, summarize, verdict
from tinyclipnn.lab.sweep import Checkpoint


def test_grid_order_and_validation():
    g = grid("session")
    assert len(g) == 2 * 2 * 4 * 3 and g[0]["seed"] == 0 and g[-1]["seed"] == 2
    assert {c["method"] for c in g} == set(pascanu.METHODS)
    assert grid("quick", tasks=["add"], max_steps=7)[0] == {
        "task": "addition", "length": 50, "method": "sgd", "seed": 0, "init": "smart-tanh",
        "alpha": 4.0, "max_steps": 7, "check_every": 100, "n_check": 500}
    for kw, msg in [({"budget": "huge"}, "budget"), ({"methods": ["adam"]}, "methods"),
                    ({"lengths": [5]}, "lengths"), ({"seeds": 0}, "seeds"),
                    ({"tasks": ["nope"]}, "task"), ({"max_steps": 0}, "max_steps"),
                    ({"init": "orthogonal"}, "init must be one of"),
                    ({"alpha": -1.0}, "alpha"), ({"alpha": float("nan")}, "alpha"),
                    ({"part": "fig7-smart"}, "not both")]:
        with pytest.raises(ValueError, match=msg):
            grid(**{"budget": "quick", **kw})


def test_summary_counts_unfinished_and_capped_runs_apart():
    base = {"task": "addition", "length": 50, "method": "sgd-cr", "init": "smart-tanh",
            "alpha": 4.0, "max_steps": 100}
    done = {**base, "status": "done", "diverged": False, "seconds": 1.0}
    rows = [{**done, "solved_paper": True, "solved_paper_at": 40, "solved_code": True,
             "solved_code_at": 60, "steps": 60, "best_error": 0.0},
            {**done, "solved_paper": True, "solved_paper_at": 80, "solved_code": False,
             "solved_code_at": None, "steps": 100, "best_error": 0.004},
            {**done, "solved_paper": False, "solved_code": False, "steps": 100,
             "best_error": 0.3},
            {**done, "diverged": True, "solved_paper": False, "solved_code": False, "steps": 9,
             "best_error": 0.7},
            {**base, "status": "not run"}, {**base, "status": "failed"}]
    e = summarize(rows)[("addition", "smart-tanh", 4.0, 50, 0, "sgd-cr")]
    assert (e["runs"], e["solved"], e["solved_code"], e["diverged"]) == (4, 2, 1, 1)
    assert (e["undecided"], e["undecided_code"], e["not_finished"]) == (1, 2, 2)
    assert e["steps_to_solve"] == [40, 80] and e["steps_to_solve_code"] == [60]
    assert e["success_rate"] == 0.5 and e["success_rate_code"] == 0.25
    assert verdict(e) == ("2/4; 1 at the 100-update cap unsolved (undecided at this budget); "
                          "1 diverged")
    assert verdict(e, code=True).startswith("1/4; 2 at the 100-update cap unsolved")
    assert "fail" not in verdict(e) + verdict(e, code=True)


def _scripted_errors(monkeypatch, screens, confirms, n_screen):
    """Replace the cell's tests by scripted error rates: screens (n == n_screen) and
    confirmations (any other n) each take the next value of their list, at every length."""
    calls = []
    it_s, it_c = iter(screens), iter(confirms)

    def fake(task, model, lengths, rng, n):
        calls.append((n, tuple(lengths)))
        v = next(it_s) if n == n_screen else next(it_c)
        return {T: (v[T] if isinstance(v, dict) else v) for T in lengths}

    monkeypatch.setattr(pascanu, "_errors", fake)
    return calls


def test_both_rules_first_update_from_the_confirmation_and_stop_at_the_codes(tmp_path,
                                                                             monkeypatch):
    """Only a confirmation on n_eval sequences counts; the paper's rule (< 1 %) and the code's
    (0 errors) each record the first update at which they held; the run stops at the code's."""
    calls = _scripted_errors(monkeypatch, screens=[0.5, 0.005, 0.004, 0.003, 0.0, 0.0],
                             confirms=[0.02, 0.008, 0.0001, 0.0], n_screen=100)
    cfg = {"task": "temporal_order", "length": 12, "method": "sgd-cr", "seed": 0,
           "max_steps": 1000, "check_every": 5, "n_check": 100, "n_eval": 1000}
    r = pascanu.train_cell(cfg, Checkpoint(tmp_path, every=1000))
    assert (r["solved_paper_at"], r["solved_code_at"], r["steps"]) == (15, 30, 30)
    assert r["solved"] and r["solved_paper"] and r["solved_code"] and r["stop"] == "code rule"
    assert not r["capped"] and r["final_errors"] == {"12": 0.0}  # the confirmation's numbers
    assert r["paper_errors"] == {"12": 0.008}
    assert [n for n, _ in calls] == [100, 100, 1000, 100, 1000, 100, 100, 1000, 100, 1000]
    assert "every 5 updates: 100 fresh sequences; a rule met there is confirmed on 1000" \
        in r["test"]


def test_capped_run_reports_no_rule_and_a_final_test(tmp_path, monkeypatch):
    _scripted_errors(monkeypatch, screens=[0.3, 0.2], confirms=[0.25], n_screen=100)
    cfg = {"task": "temporal_order", "length": 12, "method": "sgd-c", "seed": 0,
           "max_steps": 10, "check_every": 5, "n_check": 100, "n_eval": 1000}
    r = pascanu.train_cell(cfg, Checkpoint(tmp_path, every=1000))
    assert r["stop"] == "cap" and r["capped"] and not r["solved"] and not r["solved_code"]
    assert r["solved_paper_at"] is None and r["final_error"] == 0.25 and r["best_error"] == 0.2


def test_updates_above_the_cutoff_are_counted_for_every_method(tmp_path):
    """How often clipping acted (sgd-c) or would have (sgd): every update, or none."""
    base = {"task": "temporal_order", "length": 12, "seed": 0, "max_steps": 6,
            "check_every": 100, "n_check": 10, "n_eval": 10}
    for method in ("sgd", "sgd-c"):
        tiny = pascanu.train_cell({**base, "method": method, "cutoff": 1e-12},
                                  Checkpoint(tmp_path / method / "a", every=100))
        huge = pascanu.train_cell({**base, "method": method, "cutoff": 1e12},
                                  Checkpoint(tmp_path / method / "b", every=100))
        assert tiny["updates_above_cutoff"] == 6 and huge["updates_above_cutoff"] == 0
        assert 0 < huge["max_grad_norm"] < 1e12


def test_mixed_length_runs_meet_a_rule_only_at_every_test_length(tmp_path, monkeypatch):
    lengths = (12, 16, 20)
    calls = _scripted_errors(
        monkeypatch, screens=[0.0, 0.0],
        confirms=[{12: 0.0, 16: 0.0, 20: 0.02}, {12: 0.0, 16: 0.0, 20: 0.0}], n_screen=33)
    cfg = {"task": "temporal_order", "length": 12, "max_length": 20, "method": "sgd-cr",
           "seed": 0, "max_steps": 1000, "check_every": 5, "n_check": 100, "n_eval": 1000,
           "test_lengths": list(lengths)}
    r = pascanu.train_cell(cfg, Checkpoint(tmp_path, every=1000))
    assert (r["solved_paper_at"], r["solved_code_at"]) == (10, 10)  # not at 5: T=20 had 2 %
    assert all(c[1] == lengths for c in calls)
    assert {k: r[k] for k in r if k.startswith("final_error_T")} == {
        "final_error_T12": 0.0, "final_error_T16": 0.0, "final_error_T20": 0.0}
    assert "33 fresh sequences at each of T = 12, 16, 20" in r["test"]


def test_history_is_thinned_to_a_few_hundred_points():
    h = [(200 * i, 0.5, 1.0) for i in range(1, 1001)]
    t = pascanu.thin(h)
    assert len(t) == 201 and t[0] == h[0] and t[-1] == h[-1] and t[1][0] == 1200
    assert pascanu.thin(h[:150]) == h[:150] and pascanu.thin([]) == []
    odd = h[:403]
    assert pascanu.thin(odd)[-1] == odd[-1] and len(pascanu.thin(odd)) <= 202


def test_grid_parts_of_issue_25():
    sizes = {"fig7-smart": (60, 200_000, "smart-tanh"), "fig7-basic": (18, 100_000, "basic-tanh"),
             "fig7-sigmoid": (18, 100_000, "sigmoid"), "mixed": (12, 200_000, "smart-tanh"),
             "memorisation": (3, 200_000, "smart-tanh")}
    assert set(sizes) == set(GRIDS)
    for part, (n, cap, init) in sizes.items():
        g = grid(part=part)
        assert len(g) == n and len({json.dumps(c, sort_keys=True) for c in g}) == n
        assert all(c["max_steps"] == cap and c["init"] == init and c["alpha"] == 4.0
                   and (c["check_every"], c["n_check"], c["n_eval"]) == (200, 1000, 10_000)
                   for c in g)
    assert {c["method"] for c in grid(part="fig7-smart")} == {"sgd", "sgd-c", "sgd-cr"}
    assert {c["length"] for c in grid(part="fig7-smart")} == {50, 100, 150, 200}
    mixed = grid(part="mixed")
    assert {c["task"] for c in mixed} == {"addition", "multiplication", "temporal_order_3bit",
                                         "random_permutation"}
    assert all(c["length"] == 50 and c["max_length"] == 200 and c["method"] == "sgd-cr"
               for c in mixed)
    assert grid(part="memorisation")[0]["task"] == "noiseless_memorization"
    small = grid(part="fig7-basic", max_steps=50, seeds=1, alpha=2)
    assert len(small) == 6 and small[0]["max_steps"] == 50 and small[0]["alpha"] == 2.0


def test_cli_grid_choices_are_the_grids():
    from tinyclipnn.cli import build_parser

    sub = next(a for a in build_parser()._subparsers._group_actions)
    rep = sub.choices["reproduce"]
    opt = next(a for a in rep._actions if "--grid" in a.option_strings)
    assert list(opt.choices) == list(GRIDS)


@pytest.mark.parametrize("init,units,std", [("sigmoid", "sigmoid", 0.01),
                                             ("basic-tanh", "tanh", 0.1),
                                             ("smart-tanh", "tanh", 0.01)])
def test_their_three_initialisations(init, units, std):
    """As RNN.py's `state['init']` branches: units, N(0, std) weights drawn from
    RandomState(seed) in their order (W_uh first), zero biases; smart tanh keeps 15 non-zeros
    per row of their W_hh (a column of ours) and rescales it to spectral radius 0.95."""
    task = get_task("temporal_order")
    s = {**pascanu.PAPER, "init": init}
    m = pascanu.build_model(task, "sgd-cr", s)
    pascanu.init_weights_(m, init, 7, s)
    assert m.rnn.nonlinearity == units and m.rnn.vanishing_penalty == 4.0
    first = np.random.RandomState(7).normal(size=(6, 50), scale=std, loc=0.0).astype(np.float32)
    np.testing.assert_array_equal(m.rnn.weight_ih_l0.data, first.T)
    w = m.rnn.weight_hh_l0.data.astype(np.float64)
    radius = np.max(np.abs(np.linalg.eigvals(w)))
    if init == "smart-tanh":
        assert radius == pytest.approx(0.95, rel=1e-5)
        assert ((w != 0).sum(axis=0) == 15).all()  # theirs: per row of W_hh; ours = theirs.T
    else:
        assert (w != 0).all() and np.std(w) == pytest.approx(std, rel=0.1)
        assert np.std(m.head.weight.data) == pytest.approx(std, rel=0.2)
    assert not m.rnn.bias_ih_l0.requires_grad and not m.rnn.bias_hh_l0.data.any()
    assert not m.head.bias.data.any()
    m2 = pascanu.build_model(task, "sgd-cr", s)
    pascanu.init_weights_(m2, init, 7, s)
    for a, b in zip(m.parameters(), m2.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)


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
    assert main(["reproduce", "pascanu", "--alpha", "nan", "--out", str(out)]) == 2


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
           "seed": 0, "max_steps": 30, "check_every": 100, "n_check": 10, "n_eval": 10,
           "test_lengths": [12, 17, 20]}
    r = pascanu.train_cell(cfg, Checkpoint(tmp_path, every=100))
    assert len(seen) == 30 and min(seen) >= 12 and max(seen) < 20 and len(set(seen)) > 3
    assert set(r["final_errors"]) == {"12", "17", "20"} and "final_error_T20" in r


@pytest.mark.parametrize("part", ["fig7-sigmoid", "mixed"])
def test_cli_grid_part_end_to_end(part, tmp_path, capsys):
    """A grid part with a tiny cap: runs, summary with both rules, the init in every row."""
    out = tmp_path / part
    extra = ["--tasks", "addition", "--max-length", "16"] if part == "mixed" else []
    rc = main(["reproduce", "pascanu", "--grid", part, "--lengths", "12", "--seeds", "1",
               "--max-steps", "4", "--workers", "0", "--quiet", "--out", str(out), *extra])
    assert rc == 0
    text = capsys.readouterr().out
    assert f"pascanu ({part})" in text and "0 err (code)" in text
    doc = json.loads((out / "summary.json").read_text())
    rows = json.loads((out / "results.json").read_text())["rows"]
    init = "sigmoid" if part == "fig7-sigmoid" else "smart-tanh"
    assert all(r["init"] == init and r["status"] == "done" and r["steps"] == 4 for r in rows)
    assert all("undecided at this budget" in b["paper_rule"] for b in doc["results"])
    assert doc["paper_statement"] and doc["test"].startswith("every 200 updates")
    if part == "mixed":
        assert all(set(r["final_errors"]) == {"50", "100", "150", "200"} for r in rows)
