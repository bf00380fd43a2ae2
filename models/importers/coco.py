"""COCO person-keypoints JSON (delegates to models/pose/coco.py)."""
from __future__ import annotations

from pathlib import Path

from ..errors import PoseError
from .base import ImportFormatError, ImportResult, first_json_object

ID = "coco-keypoints"
LABEL = "COCO keypoints JSON"


def can_handle(path: Path) -> bool:
    doc = first_json_object(path) if path.suffix.lower() == ".json" else None
    return isinstance(doc, dict) and "annotations" in doc and any(
        isinstance(c, dict) and "keypoints" in c for c in doc.get("categories") or [])


def load(path: Path) -> ImportResult:
    from ..pose.coco import load_coco  # noqa: PLC0415

    try:
        return ImportResult(ID, str(path), poses=load_coco(path))
    except PoseError as exc:
        raise ImportFormatError(str(exc)) from None
