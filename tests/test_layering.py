"""The lab's layering, read from the source with ``ast``: ``tinyclipnn.lab`` uses only public
names of the other packages (names in their ``__all__`` or public modules), never the CLI; and
the experiment side of the package imports inside functions only optional dependencies."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tinyclipnn"
LAB = PACKAGE / "lab"
# imported inside functions so that `import tinyclipnn` stays cheap and works without them
OPTIONAL = {"matplotlib", "mpi4py", "dask", "distributed", "torch", "numba", "tqdm",
            "threadpoolctl"}
CLI = ("tinyclipnn.cli", "tinyclipnn._cli_args")
# a module whose syntax tree is the cache key of committed sweep results (lab.sweep.fingerprint):
# moving its imports would invalidate the finished runs of the Fig. 7 grid
FINGERPRINTED = {LAB / "pascanu.py"}
CHECKED_FOR_LOCAL_IMPORTS = [LAB, PACKAGE / "data", PACKAGE / "distributed",
                             PACKAGE / "cli.py", PACKAGE / "serialization.py"]


def _module_name(path: Path, package_dir: Path) -> str:
    parts = path.relative_to(package_dir.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, package_dir: Path = PACKAGE) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, imported names) of every import in ``path``."""
    module = _module_name(path, package_dir)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ("." * node.level + (node.module or "")) if node.level else node.module
            target = importlib.util.resolve_name(base, package) if node.level else base
            found.append((node.lineno, target, [a.name for a in node.names]))
    return found


def _is_public(module: str, name: str) -> bool:
    """``name`` is in ``module.__all__``, a public submodule of it, or a dunder (__version__)."""
    if name.startswith("__") and name.endswith("__"):
        return True
    if name in getattr(importlib.import_module(module), "__all__", ()):
        return True
    return not name.startswith("_") and importlib.util.find_spec(f"{module}.{name}") is not None


def _lab_files() -> list[Path]:
    return sorted(LAB.rglob("*.py"))


def _non_public_imports(path: Path, package_dir: Path = PACKAGE) -> list[str]:
    bad = []
    for line, target, names in _imports(path, package_dir):
        if not target.startswith("tinyclipnn") or target.startswith("tinyclipnn.lab"):
            continue
        where = f"{path.relative_to(package_dir)}:{line}"
        cli = [m for m in (target, *(f"{target}.{n}" for n in names)) if m in CLI]
        if cli:
            bad.append(f"{where} imports the CLI ({cli[0]})")
            continue
        private = [p for p in target.split(".") if p.startswith("_")]
        if private:
            bad.append(f"{where} imports the private module {target}")
            continue
        bad += [f"{where} imports {n} of {target}, not in its __all__"
                for n in names if not _is_public(target, n)]
    return bad


@pytest.mark.parametrize("path", _lab_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_lab_imports_only_public_names_of_other_packages(path):
    bad = _non_public_imports(path)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path", _lab_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_lab_modules_share_no_private_names(path):
    """A helper one lab module needs from another is public there (no ``_name`` imports)."""
    bad = [f"{path.relative_to(PACKAGE)}:{line} imports {n} of {target}"
           for line, target, names in _imports(path) if target.startswith("tinyclipnn.lab")
           for n in names if n.startswith("_") and not n.endswith("__")]
    assert not bad, "\n".join(bad)


def _local_imports(path: Path, package_dir: Path = PACKAGE) -> list[str]:
    lines = set()
    for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines |= {n.lineno for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom))}
    found = [(line, target) for line, target, _ in _imports(path, package_dir) if line in lines]
    return [f"{path.relative_to(package_dir)}:{line}: {mod}" for line, mod in sorted(set(found))
            if mod.split(".")[0] not in OPTIONAL]


def test_imports_inside_functions_are_optional_dependencies_only():
    files = [f for root in CHECKED_FOR_LOCAL_IMPORTS
             for f in ([root] if root.is_file() else sorted(root.rglob("*.py")))
             if f not in FINGERPRINTED]
    bad = [hit for f in files for hit in _local_imports(f)]
    assert not bad, "imports inside functions (move them to the top):\n" + "\n".join(bad)


def test_the_checks_catch_what_they_forbid(tmp_path):
    """The checks above see a private module, a name outside __all__, the CLI and a local
    import (so an empty result means something)."""
    package_dir = tmp_path / "tinyclipnn"
    probe = package_dir / "lab" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("from ..clip import _gather\nfrom ..clip._gather import x\n"
                     "from ..nn import no_such_name\nfrom .. import cli\nfrom ..cli import main\n"
                     "from . import charlm\ndef f():\n    import json\n    import numba\n",
                     encoding="utf-8")
    assert _non_public_imports(probe, package_dir) == [
        "lab/probe.py:1 imports _gather of tinyclipnn.clip, not in its __all__",
        "lab/probe.py:2 imports the private module tinyclipnn.clip._gather",
        "lab/probe.py:3 imports no_such_name of tinyclipnn.nn, not in its __all__",
        "lab/probe.py:4 imports the CLI (tinyclipnn.cli)",
        "lab/probe.py:5 imports the CLI (tinyclipnn.cli)"]
    assert _is_public("tinyclipnn.nn", "functional") and _is_public("tinyclipnn", "no_grad")
    assert _local_imports(probe, package_dir) == ["lab/probe.py:8: json"]
