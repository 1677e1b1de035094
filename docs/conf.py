"""Sphinx configuration of the tinyclipnn documentation.

Build from the repository root (the README's command; CI adds nothing else)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Nothing is downloaded: no intersphinx inventories, no link checks. The API pages are written
from each package's ``__all__`` at build time (``_ext/apigen.py``), the CLI reference from the
real argument parser (``_ext/clihelp.py``), and the gallery runs every demo on its quick budget
(sphinx-gallery).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document (and run) this checkout, installed or not
sys.path.insert(0, str(DOCS / "_ext"))
# spawned sweep workers of the gallery's demos import tinyclipnn from this checkout too
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])
os.environ.setdefault("MPLBACKEND", "Agg")

import tinyclipnn  # noqa: E402

project = "tinyclipnn"
author = "the tinyclipnn authors"
copyright = "the tinyclipnn authors, MIT licence"  # noqa: A001
release = version = tinyclipnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "apigen",
    "clihelp",
    "calltrace",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
default_role = "py:obj"  # `name` in a docstring links to its API entry where there is one
exclude_patterns = ["_build", "test_code_blocks.py", "gallery/README.rst", "**/*.ipynb",
                    "gallery/GALLERY_HEADER.rst"]
templates_path = ["_templates"]

# -- MyST ----------------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3

# -- autodoc, autosummary, numpydoc --------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autosummary_context: dict = {}  # apigen adds "inherit_members"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
numpydoc_show_class_members = False  # the class template lists members itself
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = False

# -- sphinx-gallery: every demo on its quick budget ----------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "gallery",
    "gallery_dirs": "auto_gallery",
    "filename_pattern": r"/demo_",
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("gallery_scraper.scrape_demo_figures", "matplotlib"),
    "download_all_examples": False,
    "plot_gallery": "True",
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "show_memory": False,
    "min_reported_time": 0,
    "capture_repr": (),
    "reset_modules": (),
}

# -- HTML ----------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "tinyclipnn"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "header_links_before_dropdown": 8,
    "navbar_persistent": ["search-button"],
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "icon_links": [],
}
html_sidebars = {"index": [], "changelog": [], "benchmarks": []}  # single pages: no empty sidebar
html_context = {"default_mode": "light"}

# no network: nothing here fetches anything (no intersphinx mapping, no linkcheck in CI)
intersphinx_mapping: dict = {}
