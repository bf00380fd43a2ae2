"""Importers: adapters in a registry, each with ``can_handle(path)`` and ``load(path)``.

``load_file`` validates the WHOLE file first (errors name the line or item); ``import_file``
then writes everything in one transaction, so nothing is imported half-way.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Optional

from .base import ImportFormatError, ImportResult  # noqa: F401

# format id -> module; detection tries them in this order
IMPORTERS: dict[str, str] = {
    "jsonl": "models.importers.canonical",
    "coco-keypoints": "models.importers.coco",
    "videomme": "models.importers.videomme",
    "mvbench": "models.importers.mvbench",
    "export-table": "models.importers.tables",
}


def module_for(format_id: str):
    if format_id not in IMPORTERS:
        raise ImportFormatError(f"Unknown import format '{format_id}'; known: {', '.join(IMPORTERS)}")
    return importlib.import_module(IMPORTERS[format_id])


def detect(path) -> str:
    path = Path(path)
    if not path.is_file():
        raise ImportFormatError(f"File not found: {path}")
    for fid in IMPORTERS:
        if module_for(fid).can_handle(path):
            return fid
    raise ImportFormatError(f"{path.name}: not a known import format (tried {', '.join(IMPORTERS)}); "
                            "pass --format to force one")


def load_file(path, format_id: Optional[str] = None) -> ImportResult:
    path = Path(path)
    if not path.is_file():
        raise ImportFormatError(f"File not found: {path}")
    return module_for(format_id or detect(path)).load(path)


def import_file(repo, path, format_id: Optional[str] = None) -> tuple[ImportResult, int]:
    """Load and validate ``path``, then store it in one transaction; (result, items added)."""
    result = load_file(path, format_id)
    if result.poses is not None:
        return result, repo.import_coco_poses(result.poses)
    if not result.records:
        raise ImportFormatError(f"{Path(path).name} holds no items")
    return result, repo.add_qa_items(result.records)
