#!/usr/bin/env python3
"""ActionArt Studio: composition root.

``python main.py [VIDEO_OR_FOLDER]`` opens the desktop app (the bundled demo clip when no
path is given). ``python main.py <command> ...`` runs a headless command through the same
core; no Qt is imported on that path.
"""
from __future__ import annotations

import sys

from cli import COMMANDS, run_cli


def _command_of(argv: list[str]) -> str | None:
    """The subcommand named in argv, allowing global options (``--project F``) before it."""
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--project":
            i += 2
        elif token.startswith("--project="):
            i += 1
        else:
            return token if token in COMMANDS else None
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if _command_of(argv):
        return run_cli(argv)
    from widgets.gui_main import run_gui  # noqa: PLC0415 (Qt only on the GUI path)

    return run_gui(argv)


if __name__ == "__main__":
    sys.exit(main())
