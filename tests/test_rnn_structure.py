"""The recurrent layers' structure: `nn.rnn` alone chooses (and imports) the fused or the
composed path, neither path imports `nn.rnn`, and one cell-kind table (`kernels.rnn_cells`)
fixes gate counts and orders for nn and kernels alike."""

import ast
import pathlib

import numpy as np
import pytest

import tinyclipnn
from tinyclipnn import nn
from tinyclipnn.kernels import rnn_cells
from tinyclipnn.nn import rnn_cell

ROOT = pathlib.Path(tinyclipnn.__file__).parent
PATHS = {"tinyclipnn.nn._rnn_fused", "tinyclipnn.nn._rnn_composed"}


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path) -> set[str]:
    """Every module a file imports, at top level or inside functions (relative ones resolved;
    ``from pkg import name`` counts as both ``pkg`` and ``pkg.name``)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


MODULES = {_module_name(p): _imports(p) for p in ROOT.rglob("*.py")}
PACKAGES = {_module_name(p) for p in ROOT.rglob("__init__.py")}


def test_only_nn_rnn_imports_the_fused_and_composed_paths():
    importers = {m for m, imports in MODULES.items() if imports & PATHS}
    assert importers == {"tinyclipnn.nn.rnn"}


def _reachable(start: str) -> set[str]:
    """tinyclipnn modules imported from ``start``, directly or through other modules (not
    through package ``__init__``s, which import their whole package)."""
    seen, todo = set(), [start]
    while todo:
        for target in MODULES.get(todo.pop(), ()):
            if target in MODULES and target not in PACKAGES and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


@pytest.mark.parametrize("path", sorted(PATHS))
def test_the_paths_never_import_nn_rnn(path):
    assert path in MODULES
    assert "tinyclipnn.nn.rnn" not in _reachable(path)


def test_the_kernels_never_import_nn():
    kernels = [m for m in MODULES if m.startswith("tinyclipnn.kernels")]
    assert not [m for m in kernels if any(t.startswith("tinyclipnn.nn") for t in MODULES[m])]


def test_the_cell_table_is_the_single_source():
    """No other module of nn or kernels keys a table by mode name (a gate table of its own)."""
    kinds = rnn_cells.CELL_KINDS
    assert [k.gates for k in kinds.values()] == [("h",)] * 3 + [("i", "f", "g", "o"),
                                                               ("r", "z", "n")]
    for path in [*(ROOT / "nn").rglob("*.py"), *(ROOT / "kernels").rglob("*.py")]:
        if _module_name(path) == "tinyclipnn.kernels.rnn_cells":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                assert not keys & set(kinds), (path, keys)
    assert set(rnn_cell.CELL_FUNCTIONS) == set(kinds.values())
    assert rnn_cells.ELMAN_KINDS == {k.activation: k for k in kinds.values() if k.activation}


@pytest.mark.parametrize("mode", sorted(rnn_cells.CELL_KINDS))
def test_gate_counts_match_parameter_shapes_in_nn_and_kernels(mode):
    from tinyclipnn.kernels.cpu import rnn, rnn_reference

    kind = rnn_cells.CELL_KINDS[mode]
    H, I = 5, 3
    layer = (nn.RNN(I, H, nonlinearity=kind.activation) if kind.activation
             else getattr(nn, mode)(I, H))
    cell = (nn.RNNCell(I, H, nonlinearity=kind.activation) if kind.activation
            else getattr(nn, mode + "Cell")(I, H))
    assert layer.mode == mode and cell.kind is kind
    for module in (layer, cell):
        for name, p in module.named_parameters():
            assert p.shape[0] == kind.gate_count * H, name
    rng = np.random.default_rng(0)
    T, B, G = 2, 3, kind.gate_count * H
    args = (rng.standard_normal((T, B, G)), rng.standard_normal((G, H)), rng.standard_normal(G),
            rng.standard_normal((B, H)), rng.standard_normal((B, H)) if kind.has_cell_state else None)
    for forward in (rnn.forward, rnn_reference.forward):
        y, h, c, _ = forward(mode, *args)
        assert y.shape == (T, B, H) and (c is not None) == kind.has_cell_state
    with pytest.raises(ValueError, match="mode must be one of"):
        rnn.forward(mode + "X", *args)
