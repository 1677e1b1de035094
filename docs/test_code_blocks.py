"""Every code block of the documentation pages runs (or, for shell commands, parses).

Run from the repository root (CI does, after building the site)::

    python -m pytest -q docs/test_code_blocks.py

- ``python`` blocks of a page run in order in one fresh interpreter, sharing one namespace
  (a page reads as one session), in a temporary working directory. A block whose first line
  is a ``# docs: ...`` marker runs on its own instead:

  ``# docs: needs NAME``         skipped when module NAME cannot be imported
  ``# docs: mpiexec -n N``       under ``mpiexec -n N`` (skipped without mpi4py or mpiexec)
  ``# docs: cuda simulator``     with ``NUMBA_ENABLE_CUDASIM=1``, where no GPU is needed

- ``bash`` blocks are commands for the reader's shell (installs, clusters, long runs), so
  they are not run; instead every ``tinyclipnn ...`` / ``python -m tinyclipnn ...`` command
  in them must parse with the real argument parser. A bash block whose first line is
  ``# docs: run`` is also run, with ``tinyclipnn`` on the PATH, in a temporary directory.
- The gallery's examples are run by the site build itself (sphinx-gallery), and the
  ``call-trace`` blocks of the internals pages too.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
SKIP_DIRS = {"_build", "api", "auto_gallery", "_templates", "_static", "_ext", "gallery"}
FENCE = re.compile(r"^(?P<indent>[ ]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)$")


@dataclass
class Block:
    page: str
    line: int
    lang: str
    code: str

    @property
    def marker(self) -> str:
        first = self.code.lstrip().splitlines()[0] if self.code.strip() else ""
        m = re.match(r"#\s*docs:\s*(.+)$", first.strip())
        return m.group(1).strip() if m else ""

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def pages() -> list[Path]:
    """Every MyST page of the site, and the README (whose tour is the getting-started one)."""
    out = [ROOT / "README.md"]
    for p in sorted(DOCS.rglob("*.md")):
        if not SKIP_DIRS & set(p.relative_to(DOCS).parts[:-1]):
            out.append(p)
    return out


def blocks(path: Path) -> list[Block]:
    """Fenced code blocks of a MyST page (directives such as ```{toctree} are not code)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info, indent = m.group("fence"), m.group("info").strip(), len(m.group("indent"))
        body, j = [], i + 1
        while j < len(lines) and not re.match(rf"^[ ]*{re.escape(fence)}\s*$", lines[j]):
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        lang = info.split()[0] if info else ""
        if not lang.startswith("{"):
            page = path.relative_to(DOCS) if DOCS in path.parents else path.relative_to(ROOT)
            out.append(Block(str(page), i + 1, lang, "\n".join(body) + "\n"))
        i = j + 1
    return out


ALL = [b for p in pages() for b in blocks(p)]
PYTHON = [b for b in ALL if b.lang in ("python", "py")]
SHELL = [b for b in ALL if b.lang in ("bash", "sh", "shell", "console")]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _run_python(code: str, tmp_path: Path, name: str, env: dict | None = None,
                launcher: list[str] | None = None, timeout: int = 300):
    script = tmp_path / f"{name}.py"
    script.write_text(code, encoding="utf-8")
    cmd = [*(launcher or []), sys.executable, str(script)]
    res = subprocess.run(cmd, cwd=tmp_path, env=env or _env(), capture_output=True, text=True,
                         timeout=timeout)
    assert res.returncode == 0, f"{name} failed:\n{res.stdout[-4000:]}\n{res.stderr[-6000:]}"
    return res


def test_the_pages_have_code():
    assert len(PYTHON) >= 20 and len(SHELL) >= 5


def test_markers_are_known():
    for b in ALL:
        mk = b.marker
        assert mk == "" or re.fullmatch(
            r"needs [\w.]+|mpiexec -n \d+|cuda simulator|run", mk), f"{b.id}: marker {mk!r}"


PAGES_WITH_PYTHON = sorted({b.page for b in PYTHON if not b.marker})


@pytest.mark.timeout(600)
@pytest.mark.parametrize("page", PAGES_WITH_PYTHON)
def test_page_python_blocks_run_in_order(page, tmp_path):
    """The page's unmarked python blocks, one after another, in one interpreter."""
    parts = []
    for b in PYTHON:
        if b.page == page and not b.marker:
            parts.append(f"# ---- {b.id}\n__docs_block__ = {b.id!r}\n{b.code}")
    _run_python("\n".join(parts), tmp_path, "page")


MARKED = [b for b in PYTHON if b.marker]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("block", MARKED, ids=[b.id for b in MARKED])
def test_marked_python_block(block, tmp_path):
    mk = block.marker
    if mk.startswith("needs "):
        pytest.importorskip(mk.split()[1])
        _run_python(block.code, tmp_path, "block")
    elif mk.startswith("mpiexec"):
        sys.path.insert(0, str(ROOT / "tests"))
        from _mpi import _oversubscribe, mpiexec, skip_reason, worker_env  # the tests' launcher

        if skip_reason() is not None:
            pytest.skip(skip_reason())
        n = mk.split()[-1]
        env = dict(worker_env(), MPLBACKEND="Agg")
        _run_python(block.code, tmp_path, "block", env=env,
                    launcher=[mpiexec(), "-n", n, *_oversubscribe()])
    elif mk == "cuda simulator":
        pytest.importorskip("numba")
        env = dict(_env(), NUMBA_ENABLE_CUDASIM="1")
        _run_python(block.code, tmp_path, "block", env=env)
    else:
        pytest.fail(f"{block.id}: marker {mk!r} is not for python blocks")


def _commands(code: str) -> list[list[str]]:
    """The tinyclipnn command lines of a shell block, as argument lists after ``tinyclipnn``
    (also after ``python -m``, ``mpiexec -n N``, ``srun``; not after ``pip install``)."""
    out = []
    for line in re.sub(r"\\\n", " ", code).splitlines():
        for part in re.split(r"&&|\|\||;|\|", line):
            try:
                words = shlex.split(part, comments=True)
            except ValueError:
                continue
            for k, w in enumerate(words):
                if w == "tinyclipnn" and (k == 0 or words[k - 1] not in ("install", "pip")):
                    out.append(words[k + 1:])
                    break
    return out


def test_every_cli_command_in_the_docs_parses():
    from tinyclipnn.cli import build_parser

    parser = build_parser()
    seen = 0
    for b in SHELL:
        for args in _commands(b.code):
            seen += 1
            try:
                parser.parse_args(args)
            except SystemExit as e:  # argparse's exit: 0 for --help/--version, 2 for an error
                if e.code not in (0, None):
                    pytest.fail(f"{b.id}: 'tinyclipnn {' '.join(args)}' does not parse")
    assert seen >= 10


RUN = [b for b in SHELL if b.marker == "run"]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("block", RUN, ids=[b.id for b in RUN])
def test_run_marked_shell_block(block, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shim = bindir / "tinyclipnn"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tinyclipnn "$@"\n')
    shim.chmod(0o755)
    env = _env()
    env["PATH"] = os.pathsep.join([str(bindir), env.get("PATH", "")])
    res = subprocess.run(["bash", "-euo", "pipefail", "-c", textwrap.dedent(block.code)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=500)
    assert res.returncode == 0, f"{block.id}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
