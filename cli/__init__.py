"""Headless command line. Each command lives in its own module with ``register(sub)``
and a ``run(args) -> int``; this package dispatches. No Qt is imported here."""
from __future__ import annotations

import argparse
import importlib
import sys

# command name -> module under cli/ that implements it
COMMANDS: dict[str, str] = {
    "info": "cli.poses",
    "extract-poses": "cli.poses",
    "synth-qa": "cli.qa", "import-captions": "cli.qa", "qa-check": "cli.qa",
    "export": "cli.export", "import": "cli.export", "eval": "cli.evaluate",
    "describe": "cli.describe", "diff": "cli.describe", "motion": "cli.describe",
    "interact": "cli.interact",
    "ask": "cli.vlm", "compare": "cli.vlm", "models": "cli.vlm",
    "dataset": "cli.dataset",
    "finetune": "cli.finetune",
}


def build_parser() -> argparse.ArgumentParser:
    from cli.argtypes import Parser  # noqa: PLC0415

    parser = Parser(prog="main.py", description="ActionArt Studio command line")
    parser.add_argument("--project", help="project file (default: the user's project)")
    sub = parser.add_subparsers(dest="command", required=True)
    for module_name in dict.fromkeys(COMMANDS.values()):  # each module once, in order
        importlib.import_module(module_name).register(sub)
    return parser


def run_cli(argv: list[str]) -> int:
    from models.errors import StudioError  # noqa: PLC0415

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
