#!/usr/bin/env python3
"""ActionArt Studio: composition root.

``python main.py [VIDEO_OR_FOLDER]`` opens the desktop app (the bundled demo clip when no
path is given). ``python main.py <command> ...`` runs a headless command through the same
core; no Qt is imported on that path.
"""
from __future__ import annotations

import sys

from cli import COMMANDS, run_cli


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        return run_cli(argv)
    from widgets.gui_main import run_gui  # noqa: PLC0415 (Qt only on the GUI path)

    return run_gui(argv)


if __name__ == "__main__":
    sys.exit(main())
