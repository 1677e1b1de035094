"""save / load: round trips of model and optimizer state, atomic writes."""

import os

import numpy as np
import pytest

import tinyclipnn as tc


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


def test_save_rejects_bad_keys(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        tc.save({"a/b": np.ones(1)}, tmp_path / "x.npz")
