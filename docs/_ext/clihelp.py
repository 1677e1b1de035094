"""``tinyclipnn-cli`` directive: the real ``--help`` text of the command line (or of one
subcommand), taken from the argument parser at build time, so the page cannot fall behind."""

from __future__ import annotations

import argparse
import os

from docutils import nodes
from docutils.parsers.rst import Directive


def help_text(command: str | None) -> str:
    """``tinyclipnn [command] --help`` as it prints at 88 columns."""
    from tinyclipnn.cli import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"
    try:
        parser = build_parser()
        if command is None:
            return parser.format_help()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction) and command in action.choices:
                return action.choices[command].format_help()
        raise ValueError(f"tinyclipnn-cli: no subcommand {command!r}")
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


class CliHelp(Directive):
    optional_arguments = 1
    has_content = False

    def run(self):
        text = help_text(self.arguments[0] if self.arguments else None)
        node = nodes.literal_block(text, text)
        node["language"] = "text"
        return [node]


def setup(app):
    app.add_directive("tinyclipnn-cli", CliHelp)
    return {"parallel_read_safe": True, "version": "1"}
