"""Locate the bundled data files in ``resources/``."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "resources"


def path(*parts: str) -> Path:
    return ROOT.joinpath(*parts)


@lru_cache(maxsize=None)
def load_json(*parts: str):
    with open(path(*parts), encoding="utf-8") as fh:
        return json.load(fh)


def demo_clip() -> Path:
    return path("demo", "demo_two_people.mp4")
