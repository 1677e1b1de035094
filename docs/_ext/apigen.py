"""Write the API reference pages from each package's ``__all__`` at build time.

Every public name (an entry of ``__all__``; for a module without ``__all__``, every public
function and class defined in tinyclipnn) gets an entry: classes and functions an autosummary
page of their own, constants a ``py:data`` entry with their value, submodules a page of their
own. A package that later gains a name (or a submodule in ``__all__``) gets its entry without
editing anything here. After reading the sources the extension checks that every expected name
has a Python-domain entry and warns (an error under ``-W``) for any that does not.

The pages go to ``docs/api/`` (generated, not committed).
"""

from __future__ import annotations

import importlib
import inspect
import types
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

# (module, one-line description) in reading order; modules found in an ``__all__`` of one of
# these are added after their parent.
MODULES = [
    ("tinyclipnn", "tensors, ops, dtypes, random numbers, saving and loading"),
    ("tinyclipnn.autograd", "the autograd engine's own names (the rest are re-exported at the top)"),
    ("tinyclipnn.nn", "modules, layers, recurrent layers and losses"),
    ("tinyclipnn.nn.functional", "the functional forms of layers and losses"),
    ("tinyclipnn.nn.init", "parameter initialisation"),
    ("tinyclipnn.optim", "optimizers"),
    ("tinyclipnn.optim.lr_scheduler", "learning-rate schedulers"),
    ("tinyclipnn.clip", "gradient clipping: functions, clippers, loss scaling, buffers, monitors"),
    ("tinyclipnn.distributed", "training on MPI: data-parallel, ZeRO, DP-SGD, fault handling"),
    ("tinyclipnn.data", "built-in tasks and corpora"),
    ("tinyclipnn.lab", "experiment plumbing: clip specs, the loop, metrics, demos"),
    ("tinyclipnn.lab.sweep", "resumable sweeps on local processes or Dask"),
    ("tinyclipnn.lab.checkpoint", "capture and restore of training state"),
    ("tinyclipnn.lab.charlm", "the character LSTM behind train-charlm and sample"),
]

# names of the autograd package that are documented under the top-level package instead
SKIP_REEXPORTS = {"tinyclipnn.autograd": "tinyclipnn"}

# what a constant is, when its source has no ``#:`` comment
DATA_DOCS = {
    "tinyclipnn.clip.BACKENDS": "The values ``backend=`` accepts.",
    "tinyclipnn.clip.NONFINITE_POLICIES": "The values ``nonfinite=`` accepts.",
    "tinyclipnn.clip.SHARD_ALIGN": (
        "Chunk size (elements) of the norm kernels: shards cut at multiples of it give group "
        "norms bit-identical to one process."),
    "tinyclipnn.distributed.SHARD_ALIGN": "The same constant as :data:`tinyclipnn.clip.SHARD_ALIGN`.",
    "tinyclipnn.data.TASKS": "Pascanu et al. (2013)'s pathological tasks by name (:class:`Task`).",
    "tinyclipnn.lab.CLIP_METHODS": (
        "The methods ``--clip`` / :func:`parse_clip` accept besides ``none``: "
        ":data:`tinyclipnn.clip.CLIP_METHODS`, name -> clipper class (the spec's arguments "
        "are the class's leading ones)."),
    "tinyclipnn.lab.DEMOS": "The registered demos by name (:class:`DemoInfo`).",
    "tinyclipnn.lab.FLAGSHIP": "The demo ``tinyclipnn demo`` runs without a name.",
    "tinyclipnn.lab.PLOT_HINT": "The message printed when matplotlib is missing.",
    "tinyclipnn.lab.checkpoint.KIND": "The ``kind`` field every checkpoint written here carries.",
    "tinyclipnn.lab.checkpoint.VERSION": "The checkpoint format version.",
    "tinyclipnn.lab.charlm.DEFAULT_OUT": "Default output folder of ``train-charlm``.",
    "tinyclipnn.lab.charlm.CHECKPOINT_NAME": "File name of the checkpoint inside a run folder.",
}


def public_names(mod: types.ModuleType) -> list[str]:
    """``__all__``, or the public functions and classes the module itself defines."""
    names = getattr(mod, "__all__", None)
    if names is not None:
        return list(names)
    out = []
    for name, obj in vars(mod).items():
        if name.startswith("_"):
            continue
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and \
                getattr(obj, "__module__", "") == mod.__name__:
            out.append(name)
    return out


def classify(modname: str) -> dict[str, list[str]]:
    """The module's public names by kind: modules, classes, exceptions, functions, data."""
    mod = importlib.import_module(modname)
    kinds: dict[str, list[str]] = {k: [] for k in
                                   ("modules", "classes", "exceptions", "functions", "data")}
    skip_from = SKIP_REEXPORTS.get(modname)
    parent = importlib.import_module(skip_from) if skip_from else None
    for name in public_names(mod):
        obj = getattr(mod, name)
        if parent is not None and getattr(parent, name, None) is obj:
            continue
        if inspect.ismodule(obj):
            kinds["modules"].append(name)
        elif inspect.isclass(obj) and issubclass(obj, BaseException):
            kinds["exceptions"].append(name)
        elif inspect.isclass(obj):
            kinds["classes"].append(name)
        elif callable(obj):
            kinds["functions"].append(name)
        else:
            kinds["data"].append(name)
    return kinds


def all_modules() -> list[tuple[str, str]]:
    """MODULES plus any tinyclipnn submodule named in one of their ``__all__``."""
    seen = {m for m, _ in MODULES}
    out: list[tuple[str, str]] = []
    for modname, desc in MODULES:
        out.append((modname, desc))
        mod = importlib.import_module(modname)
        for name in public_names(mod):
            sub = getattr(mod, name)
            if inspect.ismodule(sub) and sub.__name__.startswith("tinyclipnn") \
                    and sub.__name__ not in seen:
                seen.add(sub.__name__)
                doc = (inspect.getdoc(sub) or "").strip().splitlines()
                out.append((sub.__name__, doc[0].rstrip(".") if doc else ""))
    return out


def inherited_member_rules(mods: list[tuple[str, str]]) -> dict[str, str]:
    """For each public class, the bases whose members its page leaves out (the value of
    ``:inherited-members:``): classes from outside tinyclipnn, and `Module` and `Tensor` with
    their bases, which have pages of their own. So ``LSTM`` shows what it inherits from
    ``RNNBase``, ``SGD`` what it inherits from ``Optimizer``, ``Tensor`` its mixin's methods,
    and none of them repeats ``Module``'s or ``Tensor``'s long lists."""
    import tinyclipnn
    from tinyclipnn import nn

    heavy = (nn.Module, tinyclipnn.Tensor)
    out = {}
    for m, _ in mods:
        mod = importlib.import_module(m)
        for n in classify(m)["classes"] + classify(m)["exceptions"]:
            cls = getattr(mod, n)
            bases = cls.__mro__[1:]
            skip = {b for b in bases if not b.__module__.startswith("tinyclipnn")}
            skip |= {b for h in heavy if h in bases for b in h.__mro__}
            out[f"{m}.{n}"] = ", ".join(sorted({b.__name__ for b in skip} | {"object"}))
    return out


def _heading(text: str, char: str) -> list[str]:
    return [text, char * len(text), ""]


def _data_entry(modname: str, name: str) -> list[str]:
    obj = getattr(importlib.import_module(modname), name)
    full = f"{modname}.{name}"
    lines = [f".. py:data:: {name}"]
    if isinstance(obj, (str, int, float, tuple)) and len(repr(obj)) <= 90:
        lines.append(f"   :value: {obj!r}")
    else:
        lines.append(f"   :type: {type(obj).__module__}.{type(obj).__qualname__}")
    lines.append("")
    if full in DATA_DOCS:
        text = DATA_DOCS[full]
    elif type(obj).__module__.startswith("numpy") and hasattr(obj, "itemsize"):
        text = (f"The numpy dtype ``numpy.{obj}`` under PyTorch's name "
                f"(``torch.{name}``); use it wherever a dtype is taken.")
    else:
        text = "(no description)"
    lines += [f"   {text}", ""]
    return lines


def module_page(modname: str, desc: str, known: set[str]) -> str:
    """The reST of one module's page."""
    kinds = classify(modname)
    lines = _heading(modname, "=")
    lines += [f".. automodule:: {modname}", "   :no-members:", "",
              f".. currentmodule:: {modname}", ""]
    sections = [("classes", "Classes"), ("exceptions", "Exceptions"), ("functions", "Functions")]
    for key, title in sections:
        if not kinds[key]:
            continue
        lines += _heading(title, "-")
        lines += [".. autosummary::", "   :toctree: generated", "   :nosignatures:"]
        if key != "functions":
            lines.append("   :template: autosummary/class.rst")
        lines.append("")
        lines += [f"   {n}" for n in kinds[key]] + [""]
    if kinds["data"]:
        lines += _heading("Constants", "-")
        for n in kinds["data"]:
            lines += _data_entry(modname, n)
    if kinds["modules"]:
        lines += _heading("Submodules", "-")
        for n in kinds["modules"]:
            sub = getattr(importlib.import_module(modname), n).__name__
            target = f":doc:`{sub}`" if sub in known else f":mod:`{sub}`"
            lines.append(f"- ``{modname}.{n}``: {target}")
        lines.append("")
    return "\n".join(lines)


EXPECTED: list[str] = []  # every public name, filled by write_pages

INDEX_INTRO = """\
API reference
=============

Every public name of every package, generated from the docstrings at build time. The
guides explain how the pieces fit; this reference lists what each name takes and returns.
Names follow PyTorch's wherever PyTorch has the same thing (``tinyclipnn.nn.LSTM`` is
``torch.nn.LSTM``; ``tinyclipnn.clip.clip_grad_norm_`` is ``torch.nn.utils.clip_grad_norm_``).

"""


def write_pages(app: Sphinx, config=None) -> None:
    """Write ``docs/api/index.rst`` and one page per module (before Sphinx looks for sources)."""
    out = Path(app.srcdir) / "api"
    out.mkdir(exist_ok=True)
    mods = all_modules()
    known = {m for m, _ in mods}
    lines = [INDEX_INTRO, ".. list-table::", "   :widths: 35 65", ""]
    for m, desc in mods:
        lines += [f"   * - :doc:`{m}`", f"     - {desc}"]
    lines += ["", ".. toctree::", "   :hidden:", ""] + [f"   {m}" for m, _ in mods] + [""]
    _write_if_changed(out / "index.rst", "\n".join(lines))
    for m, desc in mods:
        _write_if_changed(out / f"{m}.rst", module_page(m, desc, known))
    app.config.autosummary_context["inherit_members"] = inherited_member_rules(mods)
    global EXPECTED
    EXPECTED = sorted(f"{m}.{n}" for m, _ in mods for kind in classify(m).values() for n in kind)


def _write_if_changed(path: Path, text: str) -> None:
    """Leave unchanged pages untouched, so Sphinx does not re-read them."""
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def check_entries(app: Sphinx, env) -> None:
    """Warn for every public name without a Python-domain entry."""
    expected = EXPECTED
    objects = env.get_domain("py").objects
    missing = []
    for full in expected:
        if full in objects:
            continue
        mod, _, name = full.rpartition(".")
        obj = getattr(importlib.import_module(mod), name)
        if inspect.ismodule(obj) and obj.__name__ in objects:
            continue  # a submodule: its own page is the entry
        missing.append(full)
    for full in missing:
        logger.warning("public name without an API entry: %s", full, type="apigen")


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", write_pages)
    app.connect("env-check-consistency", check_entries)
    return {"parallel_read_safe": True, "version": "1"}
