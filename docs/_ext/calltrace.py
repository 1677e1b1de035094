"""``call-trace`` directive and ``src`` role: the internals pages' call chains, traced from the
current code at build time, with links into the highlighted source (sphinx.ext.viewcode).

``call-trace`` runs its content (Python that defines ``step()``), calls ``step()`` once to
warm up (kernels compile or load on first use), then calls it again under ``sys.setprofile``
and renders every tinyclipnn function that ran, nested as they called each other, each linked
to its line in the source pages. Options:

``:root:``    show only the calls below the first call of this function (its qualified name)
``:hide:``    qualified names whose calls (with everything below) are left out, comma-separated
``:expect:``  ``module:qualname`` entries the page's text relies on; each must appear in the
              trace, or the build warns (an error under ``-W``), so the text cannot silently
              drift from the code

The ``src`` role, ``{src}`module.path:Qual.name``` (or ``module.path`` for a module), links to
that function's source and warns when it no longer exists.

Compiled Numba kernels called from Python show up too (Numba reports them to profilers), marked
``[compiled]``; their bodies are not traced.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.pycode import ModuleAnalyzer
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective, SphinxRole

logger = logging.getLogger(__name__)

NOISE = ("<genexpr>", "<listcomp>", "<setcomp>", "<dictcomp>", "<lambda>")
GENERATOR_FLAGS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


@dataclass
class Call:
    module: str
    qualname: str
    line: int
    children: list[Call] = field(default_factory=list)
    count: int = 1

    def key(self) -> tuple:
        return (self.module, self.qualname, tuple(c.key() + (c.count,) for c in self.children))


def _module_of(filename: str, root: str) -> str:
    rel = os.path.relpath(filename, os.path.dirname(root))
    mod = rel[:-3].replace(os.sep, ".")
    return mod[: -len(".__init__")] if mod.endswith(".__init__") else mod


def _qualname(frame: Any) -> str:
    """The function's qualified name (``co_qualname`` from Python 3.11; before, the class of
    ``self`` / ``cls`` stands in)."""
    code = frame.f_code
    name = getattr(code, "co_qualname", None)
    if name is not None:
        return name
    owner = frame.f_locals.get("self", frame.f_locals.get("cls"))
    if owner is not None:
        cls = owner if isinstance(owner, type) else type(owner)
        return f"{cls.__qualname__}.{code.co_name}"
    return code.co_name


def trace(fn: Any) -> list[Call]:
    """Run ``fn()`` under ``sys.setprofile``; the tree of tinyclipnn calls it made."""
    import tinyclipnn

    root = os.path.dirname(tinyclipnn.__file__)
    top: list[Call] = []
    stack: list[Call | None] = []  # one entry per Python frame (None: not ours)
    resumable: dict[int, tuple[Any, Call]] = {}  # generator frames: each resume is a "call"

    def prof(frame, event, arg):
        if event == "call":
            code = frame.f_code
            if code.co_filename.startswith(root):
                known = resumable.get(id(frame))
                if known is not None and known[0] is frame:  # a generator resumed
                    stack.append(known[1])
                    return
                call = Call(_module_of(code.co_filename, root), _qualname(frame),
                            code.co_firstlineno)
                parent = next((c for c in reversed(stack) if c is not None), None)
                (parent.children if parent is not None else top).append(call)
                stack.append(call)
                if code.co_flags & GENERATOR_FLAGS:
                    resumable[id(frame)] = (frame, call)
            else:
                stack.append(None)
        elif event == "return" and stack:
            stack.pop()

    old = sys.getprofile()
    sys.setprofile(prof)
    try:
        fn()
    finally:
        sys.setprofile(old)
    return top


def prune(calls: list[Call], hide: set[str]) -> list[Call]:
    """Drop comprehension frames (keeping what they called) and hidden calls (with their
    subtrees); merge runs of identical sibling calls into one with a count."""
    out: list[Call] = []
    for c in calls:
        if c.qualname in hide:
            continue
        c.children = prune(c.children, hide)
        if any(n in c.qualname for n in NOISE):
            out.extend(c.children)
            continue
        out.append(c)
    merged: list[Call] = []
    for c in out:
        if merged and merged[-1].key() == c.key():
            merged[-1].count += c.count
        else:
            merged.append(c)
    return merged


def find_root(calls: list[Call], qualname: str) -> list[Call] | None:
    for c in calls:
        if c.qualname == qualname:
            return [c]
        hit = find_root(c.children, qualname)
        if hit is not None:
            return hit
    return None


def walk(calls: list[Call], depth: int = 0):
    for c in calls:
        yield depth, c
        yield from walk(c.children, depth + 1)


def is_compiled(module: str, qualname: str) -> bool:
    """Whether the module-level object ``qualname`` is a Numba dispatcher."""
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return False
    return hasattr(obj, "py_func") and hasattr(obj, "signatures")


def source_link(env: Any, module: str, qualname: str) -> tuple[str, bool]:
    """Relative URI of ``qualname`` in viewcode's page of ``module`` (registering it there so
    the page is written with that anchor), and whether the name is a tag of the module."""
    if not hasattr(env, "_viewcode_modules"):
        env._viewcode_modules = {}
    entry = env._viewcode_modules.get(module)
    if not entry:
        try:
            analyzer = ModuleAnalyzer.for_module(module)
            analyzer.find_tags()
        except Exception:  # noqa: BLE001 - no source: no link
            return "", False
        entry = (analyzer.code, analyzer.tags, {}, module)
        env._viewcode_modules[module] = entry
    _, tags, used, _ = entry
    depth = env.docname.count("/")
    base = "../" * depth + "_modules/" + module.replace(".", "/") + ".html"
    if qualname and qualname in tags:
        used[qualname] = env.docname
        return f"{base}#{qualname}", True
    return base, not qualname


class CallTrace(SphinxDirective):
    has_content = True
    option_spec = {"root": directives.unchanged, "hide": directives.unchanged,
                   "expect": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        code = "\n".join(self.content)
        namespace: dict[str, Any] = {"__name__": "calltrace_scenario"}
        exec(compile(code, f"{self.env.docname}:call-trace", "exec"), namespace)
        step = namespace["step"]
        step()  # warm-up: kernels compile or load from the cache
        calls = trace(step)
        hide = {h.strip() for h in self.options.get("hide", "").split(",") if h.strip()}
        if "root" in self.options:
            found = find_root(calls, self.options["root"])
            if found is None:
                logger.warning("call-trace: %s was not called", self.options["root"],
                               location=self.get_location())
                found = []
            calls = found
        calls = prune(calls, hide)
        seen = {f"{c.module}:{c.qualname}" for _, c in walk(calls)}
        for want in filter(None, (w.strip() for w in self.options.get("expect", "").split(","))):
            if want not in seen:
                logger.warning("call-trace: %s is no longer on this path; update the page",
                               want, location=self.get_location())
        code_node = nodes.literal_block(code, code)
        code_node["language"] = "python"
        return [code_node, self._tree(calls)]

    def _tree(self, calls: list[Call]) -> nodes.literal_block:
        block = nodes.literal_block("", "", classes=["call-trace"])
        anchored: set[str] = set()
        for depth, c in walk(calls):
            uri, ok = source_link(self.env, c.module, c.qualname)
            label = c.qualname + ("()" if not c.qualname.endswith(">") else "")
            block += nodes.Text("    " * depth)
            ref = nodes.reference(label, label, refuri=uri, internal=True)
            full = f"{c.module}.{c.qualname}"
            if ok and full not in anchored:  # target of viewcode's [docs] link back here
                ref["ids"] = [nodes.make_id(full), full]
                anchored.add(full)
            block += ref
            extra = f"  × {c.count}" if c.count > 1 else ""
            if is_compiled(c.module, c.qualname):
                extra += "  [compiled]"
            block += nodes.Text(f"{extra}   {c.module}\n")
        return block


class SrcRole(SphinxRole):
    """``{src}`module:Qual.name``` (link text: the qualified name) or ``{src}`module```."""

    def run(self):
        target = self.text
        module, _, qualname = target.partition(":")
        try:
            obj = importlib.import_module(module)
            for part in filter(None, qualname.split(".")):
                obj = getattr(obj, part)
        except (ImportError, AttributeError):
            logger.warning("src: %s does not exist (any more)", target, location=self.get_location())
        uri, ok = source_link(self.env, module, qualname)
        if not ok:
            logger.warning("src: no source anchor for %s", target, location=self.get_location())
        label = qualname or module
        lit = nodes.literal(label, label)
        return [nodes.reference("", "", lit, refuri=uri, internal=True)], []


def setup(app):
    app.add_directive("call-trace", CallTrace)
    app.add_role("src", SrcRole())
    return {"parallel_read_safe": False, "version": "1"}
