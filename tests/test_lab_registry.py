import sys

import pytest

from tinyclipnn.lab import DEMOS, FLAGSHIP, PLOT_HINT, get_demo, list_demos, plotting


def test_registry_lists_flagship_first():
    names = [d.name for d in list_demos()]
    assert names[0] == FLAGSHIP == "exploding"
    assert {"cliff", "l0l1", "stability", "exploding", "spirals"} <= set(names)
    assert get_demo("cliff").module.endswith(".cliff")
    with pytest.raises(ValueError, match="demo must be one of"):
        get_demo("nope")
    assert all(d.summary for d in DEMOS.values())


def test_import_lab_is_cheap():
    import subprocess

    code = ("import sys, tinyclipnn, tinyclipnn.lab, tinyclipnn.data, tinyclipnn.cli; "
            "print('matplotlib' in sys.modules, 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_plotting_without_matplotlib(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    assert not plotting.have_matplotlib()
    assert plotting.get_pyplot() is None
    assert "pip install 'tinyclipnn[plot]'" in capsys.readouterr().err
    assert "tinyclipnn[plot]" in PLOT_HINT
