"""save / load: round trips of model and optimizer state, atomic writes."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tinyclipnn as tc

ROOT = Path(__file__).resolve().parents[1]


def test_model_state_round_trip(tmp_path):
    m = tc.nn.Sequential(tc.nn.Linear(3, 4), tc.nn.Tanh(), tc.nn.Linear(4, 2))
    path = tmp_path / "ckpt.npz"
    tc.save(m.state_dict(), path)
    loaded = tc.load(path)
    assert list(loaded) == list(m.state_dict())
    m2 = tc.nn.Sequential(tc.nn.Linear(3, 4), tc.nn.Tanh(), tc.nn.Linear(4, 2))
    m2.load_state_dict(loaded)
    x = tc.tensor(np.ones((1, 3), np.float32))
    np.testing.assert_array_equal(m(x).data, m2(x).data)


def test_nested_state_with_optimizer(tmp_path):
    p = tc.nn.Parameter(np.ones(2))
    opt = tc.optim.Adam([p], lr=0.1)
    p.grad = np.ones(2)
    opt.step()
    state = {"model": {"w": p.data}, "optim": opt.state_dict(), "step": 7, "name": "run",
             "lr": 0.5, "flags": [True, None], "shape": (2, 3)}
    tc.save(state, tmp_path / "s.npz")
    back = tc.load(tmp_path / "s.npz")
    assert back["step"] == 7 and back["name"] == "run" and back["lr"] == 0.5
    assert back["flags"] == [True, None] and back["shape"] == (2, 3)
    assert back["optim"]["state"][0]["step"] == 1
    assert back["optim"]["param_groups"][0]["betas"] == (0.9, 0.999)
    np.testing.assert_array_equal(back["model"]["w"], p.data)
    opt2 = tc.optim.Adam([tc.nn.Parameter(np.ones(2))], lr=0.1)
    opt2.load_state_dict(back["optim"])


def test_crash_mid_save_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    tc.save({"w": np.ones(3)}, path)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        tc.save({"w": np.zeros(3)}, path)
    np.testing.assert_array_equal(tc.load(path)["w"], np.ones(3))
    assert [f for f in os.listdir(tmp_path) if f.startswith(".tmp")] == []


def test_every_key_type_round_trips(tmp_path):
    state = {1: "int", "1": "str", 1.5: "float", False: "bool", None: "none", "a/b": "slash",
             "x#key": "hash", "__tinyclipnn__": "reserved name", "": "empty",
             "nested": {2: {3.0: [np.float32(2.5), np.int64(7), b"raw", (1, [2, None])]}}}
    tc.save(state, tmp_path / "k.npz")
    back = tc.load(tmp_path / "k.npz")
    assert back == {k: v for k, v in state.items() if k != "nested"} | {"nested": back["nested"]}
    assert [type(k) for k in back] == [type(k) for k in state]
    leaf = back["nested"][2][3.0]
    assert leaf[0] == np.float32(2.5) and type(leaf[0]) is np.float32
    assert leaf[1] == 7 and type(leaf[1]) is np.int64
    assert leaf[2:] == [b"raw", (1, [2, None])]


def test_big_ints_and_special_floats_round_trip(tmp_path):
    state = {"big": 2**100 + 1, "neg": -(2**70), "inf": float("inf"), "tiny": 5e-324}
    tc.save(state, tmp_path / "b.npz")
    assert tc.load(tmp_path / "b.npz") == state
    tc.save({"nan": float("nan")}, tmp_path / "n.npz")
    assert np.isnan(tc.load(tmp_path / "n.npz")["nan"])


@pytest.mark.parametrize("bad,word", [
    ({(1, 2): 1}, "tuple"), ({b"k": 1}, "bytes"), ({"x": object()}, "object"),
    ({"x": np.array([None, 1], dtype=object)}, "dtype object"), ({"x": {1, 2}}, "set"),
])
def test_save_rejects_what_would_not_come_back(tmp_path, bad, word):
    with pytest.raises(TypeError, match=word):
        tc.save(bad, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_save_rejects_self_containing_state(tmp_path):
    d = {}
    d["me"] = d
    with pytest.raises(ValueError, match="deeper"):
        tc.save(d, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_file_modes(tmp_path):
    path = tmp_path / "m.npz"
    old = os.umask(0o022)
    try:
        tc.save({"w": np.ones(2)}, path)
        assert os.stat(path).st_mode & 0o777 == 0o644
        os.chmod(path, 0o640)
        tc.save({"w": np.zeros(2)}, path)  # a replaced file keeps its mode
        assert os.stat(path).st_mode & 0o777 == 0o640
        os.umask(0o077)
        tc.save({"w": np.ones(2)}, tmp_path / "private.npz")
        assert os.stat(tmp_path / "private.npz").st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_temporary_file_removed_on_any_exception(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tc.save({"w": np.ones(3)}, tmp_path / "a.npz")
    assert os.listdir(tmp_path) == []


def test_stale_temporaries_of_killed_saves_are_removed(tmp_path):
    """A save killed with SIGKILL leaves its temporary; the next save in the folder removes it
    (temporaries of live processes, e.g. a concurrent save, are left alone)."""
    code = ("import sys, time, numpy as np, tinyclipnn as tc\n"
            "def slow(f, **kw):\n    f.write(b'partial' * 1000); f.flush(); time.sleep(60)\n"
            "np.savez = slow\n"
            f"tc.save({{'w': np.ones(3)}}, {str(tmp_path / 'ckpt.npz')!r})\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.time() + 60
        while not any(".tmp-" in f for f in os.listdir(tmp_path)) and time.time() < deadline:
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    assert [f for f in os.listdir(tmp_path) if ".tmp-" in f]
    live = tmp_path / f".other.npz.tmp-{os.getpid()}-abc"
    live.write_bytes(b"in progress")
    tc.save({"w": np.zeros(3)}, tmp_path / "ckpt.npz")
    assert sorted(os.listdir(tmp_path)) == sorted(["ckpt.npz", live.name])


def test_load_bounded_nesting(tmp_path):
    deep = tmp_path / "deep.npz"
    meta = '{"format": 2, "tree": ' + '{"t": "list", "items": [' * 5000 + "]}" * 5000 + "}"
    np.savez(deep, __tinyclipnn__=np.array(meta))
    with pytest.raises(ValueError, match="deep.npz"):
        tc.load(deep)


def test_load_clear_errors_for_non_checkpoints(tmp_path):
    np.save(tmp_path / "a.npy", np.ones(3))
    with pytest.raises(ValueError, match="single array"):
        tc.load(tmp_path / "a.npy")
    (tmp_path / "r.bin").write_bytes(np.random.default_rng(1).bytes(2000))
    with pytest.raises(ValueError, match="not a tinyclipnn checkpoint"):
        tc.load(tmp_path / "r.bin")
    import pickle

    (tmp_path / "p.pkl").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="not a tinyclipnn checkpoint") as e:
        tc.load(tmp_path / "p.pkl")
    assert "allow_pickle" not in str(e.value)
    np.savez(tmp_path / "o.npz", a=np.array([None], dtype=object))
    with pytest.raises(ValueError, match="unsafe") as e:
        tc.load(tmp_path / "o.npz")
    assert "allow_pickle" not in str(e.value)
    tc.save({"w": np.arange(50_000.0)}, tmp_path / "t.npz")
    data = (tmp_path / "t.npz").read_bytes()
    for cut in (10, len(data) // 2, len(data) - 10):
        (tmp_path / "cut.npz").write_bytes(data[:cut])
        with pytest.raises(ValueError, match="cut.npz"):
            tc.load(tmp_path / "cut.npz")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tc.load(tmp_path / "missing.npz")
    with pytest.raises(IsADirectoryError):
        tc.load(tmp_path)


def test_module_load_state_dict_validates_before_writing():
    m = tc.nn.Linear(3, 2)
    before = {k: v.copy() for k, v in m.state_dict().items()}
    good = {k: v + 1 for k, v in before.items()}
    for bad, err in [({**good, "bias": np.array(["a", "b"])}, TypeError),
                     ({**good, "bias": np.array([None, None], dtype=object)}, TypeError),
                     ({**good, "bias": np.ones(2, complex)}, TypeError),
                     ({**good, "bias": np.ones(3)}, ValueError),
                     ({"weight": good["weight"]}, KeyError)]:
        with pytest.raises(err, match="bias"):
            m.load_state_dict(bad)
        for k, v in m.state_dict().items():
            np.testing.assert_array_equal(v, before[k], err_msg=k)
    with pytest.raises(TypeError, match="dict"):
        m.load_state_dict([("weight", good["weight"])])
    m.load_state_dict({k: v.astype(np.int64) for k, v in good.items()})  # ints are numbers
    assert m.weight.dtype == np.float32


def _adam_with_state():
    ps = [tc.nn.Parameter(np.ones((2, 3))), tc.nn.Parameter(np.ones(4))]
    opt = tc.optim.Adam(ps, lr=0.1)
    for p in ps:
        p.grad = np.ones_like(p.data)
    opt.step()
    return ps, opt


def _same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        for n in a[k]:
            np.testing.assert_array_equal(a[k][n], b[k][n])


def test_optimizer_load_state_dict_validates_before_changing():
    ps, opt = _adam_with_state()
    good = opt.state_dict()
    keep = {k: {n: np.copy(v) for n, v in s.items()} for k, s in good["state"].items()}
    lr = opt.param_groups[0]["lr"]
    bad_index = {"state": {**good["state"], 5: good["state"][0]},
                 "param_groups": [{**good["param_groups"][0], "lr": 9.0}]}
    wrong_shape = {"state": {0: {**good["state"][0], "exp_avg": np.ones(3)}, 1: good["state"][1]},
                   "param_groups": [{**good["param_groups"][0], "lr": 9.0}]}
    strings = {"state": {0: {**good["state"][0], "exp_avg_sq": np.full((2, 3), "x")}},
               "param_groups": good["param_groups"]}
    for bad, err, word in [(bad_index, ValueError, "index 5"), (wrong_shape, ValueError, "shape"),
                           (strings, TypeError, "dtype"), ({"state": {}}, ValueError,
                                                           "param_groups")]:
        with pytest.raises(err, match=word):
            opt.load_state_dict(bad)
        assert opt.param_groups[0]["lr"] == lr
        _same_state(keep, opt.state_dict()["state"])
    p_before = ps[0].data.copy()
    for p in ps:
        p.grad = np.ones_like(p.data)
    opt.step()  # still works after the refused loads
    assert not np.array_equal(ps[0].data, p_before)


def test_optimizer_state_survives_save_load(tmp_path):
    ps, opt = _adam_with_state()
    tc.save(opt.state_dict(), tmp_path / "o.npz")
    ps2 = [tc.nn.Parameter(p.data.copy()) for p in ps]
    opt2 = tc.optim.Adam(ps2, lr=0.1)
    opt2.load_state_dict(tc.load(tmp_path / "o.npz"))
    for a, b in ((ps, opt), (ps2, opt2)):
        for p in a:
            p.grad = np.full_like(p.data, 0.5)
        b.step()
    for p, q in zip(ps, ps2, strict=True):
        np.testing.assert_array_equal(p.data, q.data)
