"""sphinx-gallery image scraper for the demos: the PNGs a demo wrote, as they are.

The demos save their own figures (and close them), so matplotlib's scraper finds nothing.
This one looks in the example's namespace for `tinyclipnn.lab.DemoResult` objects and copies
each figure they list that was not shown yet, unchanged, to the gallery's image path.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx_gallery.scrapers import figure_rst

_shown: dict[str, set[str]] = {}


def scrape_demo_figures(block, block_vars, gallery_conf) -> str:
    """Copy the new figures of every DemoResult in the example's globals; return their reST."""
    from tinyclipnn.lab import DemoResult

    src = str(block_vars["src_file"])
    shown = _shown.setdefault(src, set())
    figures: list[Path] = []
    for value in list(block_vars["example_globals"].values()):
        if isinstance(value, DemoResult):
            figures += [Path(p) for p in value.figures if str(Path(p).resolve()) not in shown]
    paths = []
    for fig, dest in zip(figures, block_vars["image_path_iterator"], strict=False):
        shutil.copyfile(fig, dest)
        shown.add(str(fig.resolve()))
        paths.append(dest)
    return figure_rst(paths, gallery_conf["src_dir"])
