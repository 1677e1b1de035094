import io
import json
import math

import numpy as np
import pytest

from tinyclipnn.lab import MetricsRecorder, ProgressReporter, parse_clip, run_loop


class P:
    """Minimal parameter: an object with .grad."""

    def __init__(self, grad):
        self.grad = np.asarray(grad, dtype=np.float32)
        self.data = np.ones_like(self.grad)


def test_metrics_recorder_csv_json(tmp_path):
    rec = MetricsRecorder({"demo": "x"})
    rec.record(run="a", step=0, loss=1.0, total_norm=10.0, coef=0.1, clipped=True)
    rec.record(run="a", step=1, loss=float("nan"), total_norm=math.inf, coef=1.0, clipped=False,
               extra=3)
    rec.record(run="b", step=0, loss=0.5)
    csv_path, json_path = rec.save(tmp_path)
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "run,step,loss,total_norm,coef,clipped,extra"
    assert lines[1].startswith("a,0,1.0,10.0,0.1,True")
    doc = json.loads(json_path.read_text())  # strict JSON: non-finite values become strings
    assert doc["meta"] == {"demo": "x"} and len(doc["steps"]) == 3
    assert doc["steps"][1]["loss"] == "nan" and doc["steps"][1]["total_norm"] == "inf"
    assert rec.runs() == ["a", "b"]
    np.testing.assert_array_equal(rec.column("step", "a"), [0, 1])
    s = rec.summary("a")
    assert s["steps"] == 2 and s["frac_clipped"] == 0.5 and s["max_norm"] == math.inf


def test_progress_plain_lines():
    buf = io.StringIO()
    p = ProgressReporter(10, desc="t", every=5, stream=buf, use_tqdm=False, min_interval=0)
    for i in range(10):
        p.update(loss=1.0 / (i + 1), total_norm=2.0, clipped=i % 2 == 0)
    p.close()
    out = buf.getvalue().splitlines()
    assert len(out) == 2
    assert "step 10/10" in out[-1] and "clipped 50%" in out[-1] and "steps/s" in out[-1]
    quiet = io.StringIO()
    q = ProgressReporter(3, stream=quiet, quiet=True)
    q.update(1.0)
    assert quiet.getvalue() == "" and q.steps == 1


def test_run_loop_records_and_stops():
    rec = MetricsRecorder()

    def step(k):
        return {"loss": 1.0 / (k + 1), "total_norm": 1.0, "clipped": False, "stop": k == 4}

    res = run_loop(step, 100, rec, run="r", quiet=True)
    assert res.steps == 5 and res.stopped and not res.interrupted
    assert len(rec) == 5 and rec.rows[0]["run"] == "r" and "stop" not in rec.rows[0]


def test_run_loop_ctrl_c_keeps_what_was_recorded(capsys):
    rec = MetricsRecorder()

    def step(k):
        if k == 3:
            raise KeyboardInterrupt
        return {"loss": 1.0}

    from tinyclipnn.lab.loop import reset_stop, stop_requested

    res = run_loop(step, 10, rec, quiet=True)
    assert res.interrupted and res.steps == 3 and len(rec) == 3
    assert "interrupted after 3 steps" in capsys.readouterr().err
    assert stop_requested()  # the next loop of the same demo returns at once
    later = run_loop(lambda k: {"loss": 1.0}, 10, rec, quiet=True)
    assert later.steps == 0 and later.interrupted and len(rec) == 3
    reset_stop()
    assert run_loop(lambda k: {"loss": 1.0}, 2, rec, quiet=True).steps == 2


def grad_norm(ps):
    from tinyclipnn.clip import get_total_norm

    return get_total_norm(ps)


def test_grad_norm_and_none_clip():
    ps = [P([3.0, 0.0]), P([[4.0]]), type("NoGrad", (), {"grad": None})()]
    assert grad_norm(ps) == pytest.approx(5.0)
    stats = parse_clip("none")(ps)
    assert stats.total_norm == pytest.approx(5.0) and stats.coef == 1.0 and not stats.clipped


@pytest.mark.parametrize("spec,clipped", [("norm:1.0", True), ("norm:10", False),
                                          ("value:1", True), ("pertensor:1.0", True),
                                          ("agc:0.01", True), ("norm:1,inf", True)])
def test_parse_clip_methods_clip_in_place(spec, clipped):
    pytest.importorskip("tinyclipnn.clip")
    ps = [P([3.0, 0.0]), P([[4.0]])]
    stats = parse_clip(spec)(ps)
    assert stats.total_norm == pytest.approx(4.0 if spec.endswith("inf") else 5.0)  # max |g|
    assert stats.clipped is clipped
    if spec in ("norm:1.0", "norm:10"):  # element- and unit-wise methods report coef NaN
        assert grad_norm(ps) == pytest.approx(5.0 * stats.coef, rel=1e-5)


def test_parse_clip_stateful_and_optimizer_hook():
    pytest.importorskip("tinyclipnn.clip")
    z = parse_clip("zclip:warmup_steps=2,z_thresh=2")
    a = parse_clip("autoclip:10")
    for c in (z, a):
        for k in range(5):
            c([P([1.0 + 0.01 * k, 0.0])])
        stats = c([P([1000.0, 0.0])])  # a spike after a calm history is clipped
        assert stats.clipped and stats.coef < 0.1
    import tinyclipnn as tc

    w = tc.nn.Parameter(np.ones(3, np.float32))
    opt = tc.optim.SGD([w], lr=1.0, clipper=parse_clip("norm:1.0"))
    w.grad = np.full(3, 10.0, np.float32)
    opt.step()
    assert opt.last_clip.clipped
    np.testing.assert_allclose(np.linalg.norm(1 - w.data), 1.0, rtol=1e-5)


@pytest.mark.parametrize("bad,match", [("bogus", "must be one of"), ("norm", "needs a max_norm"),
                                       ("value:1,2", "at most 1"),
                                       ("zclip:foo=1", "takes alpha")])
def test_parse_clip_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        parse_clip(bad)


def test_parse_clip_labels():
    assert parse_clip(None).method == "none"
    assert parse_clip("norm:1.0").label == "norm:1.0"
    assert parse_clip("norm:2,inf").kwargs == {"max_norm": 2, "norm_type": math.inf}


def test_progress_rate_and_eta_leave_out_the_first_step(monkeypatch):
    """A first step that compiles kernels (here 30 s on a fake clock, then 0.1 s a step) must
    not make the ETA hours long: rates and the ETA count from the end of the first step, and a
    tqdm bar is only created then, starting at 1."""
    import sys
    import types

    from tinyclipnn.lab import progress

    clock = [0.0]
    monkeypatch.setattr(progress, "_now", lambda: clock[0])
    made = []

    class FakeBar:
        def __init__(self, **kw):
            made.append(kw)
            self.n = kw["initial"]

        def update(self, k):
            self.n += k

        def set_postfix(self, **kw):
            pass

        def close(self):
            pass

    monkeypatch.setitem(sys.modules, "tqdm.auto", types.SimpleNamespace(tqdm=FakeBar))
    buf = io.StringIO()
    p = ProgressReporter(1001, stream=buf, use_tqdm=False, every=1, min_interval=0)
    bar = ProgressReporter(1001, stream=buf, use_tqdm=True)
    clock[0] = 30.0
    p.update(1.0)
    bar.update(1.0)
    assert made == [dict(total=1001, initial=1, desc="", file=buf, leave=False,
                         dynamic_ncols=True)]
    assert math.isnan(p.eta_s) and "eta" not in buf.getvalue()
    for _ in range(10):
        clock[0] += 0.1
        p.update(1.0)
        bar.update(1.0)
    assert p.steps_per_s == pytest.approx(10.0) and p.eta_s == pytest.approx(99.0)
    assert buf.getvalue().splitlines()[-1].endswith("| eta 1m39s")
    assert bar._bar.n == 11
    bar.close()
    p.close()
