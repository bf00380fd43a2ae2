"""Importers: adapters in a registry, each with ``can_handle(path)`` and ``load(path)``.

``load_file`` validates the WHOLE file first (errors name the line or item); ``import_file``
then writes everything in one transaction, so nothing is imported half-way.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Iterable, Optional, Protocol, runtime_checkable

from ..bounded_read import check_regular
from ..qa.record import QARecord
from .base import ImportFormatError, ImportResult  # noqa: F401

@runtime_checkable
class ImportStore(Protocol):
    """What importing needs of a project store: QA items, and COCO persons as tracks."""

    def add_qa_items(self, records: Iterable[QARecord], gen_key: Optional[str] = None,
                     run: Optional[dict] = None) -> int: ...

    def import_coco_poses(self, dataset) -> dict: ...

    def save_person_track_sets(self, sets) -> list[bool]: ...


# format id -> module; detection tries them in this order
IMPORTERS: dict[str, str] = {
    "jsonl": "models.importers.canonical",
    "posetrack18": "models.importers.posetrack18",
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
    check_regular(path, ImportFormatError)
    for fid in IMPORTERS:
        if module_for(fid).can_handle(path):
            return fid
    raise ImportFormatError(f"{path.name}: not a known import format (tried {', '.join(IMPORTERS)}); "
                            "pass --format to force one")


def load_file(path, format_id: Optional[str] = None) -> ImportResult:
    path = Path(path)
    check_regular(path, ImportFormatError)
    return module_for(format_id or detect(path)).load(path)


def import_file(repo: ImportStore, path, format_id: Optional[str] = None) -> tuple[ImportResult, int]:
    """Load and validate ``path``, then store it in one transaction; (result, items added)."""
    result = load_file(path, format_id)
    if result.poses is not None:
        return result, _store_poses(repo, result, Path(path))
    if not result.records:
        raise ImportFormatError(f"{Path(path).name} holds no items")
    return result, repo.add_qa_items(result.records)


def _store_poses(repo: ImportStore, result: ImportResult, path: Path) -> int:
    """Store a COCO or PoseTrack18 file's persons; refuse when none of its images is next
    to it, and say which images were skipped and how many tracks replaced earlier imports."""
    assert result.poses is not None  # the caller stores poses only when the file has them
    persons = len(result.poses.persons)
    if not persons:
        raise ImportFormatError(f"{path.name} holds no person annotations")
    if result.format == "posetrack18":
        counts = module_for(result.format).store(repo, result.poses)
    else:
        counts = repo.import_coco_poses(result.poses)
    missing = counts["missing"]
    if missing and counts["skipped_persons"] == persons:
        raise ImportFormatError(
            f"{path.name}: none of its {len(missing)} annotated image(s) is in {path.parent} "
            f"(first: {missing[0]}); the images must lie where 'file_name' points")
    if missing:
        result.warnings.append(
            f"{len(missing)} image(s) not found next to {path.name} (first: {missing[0]}); "
            f"their {counts['skipped_persons']} person(s) were skipped")
    if counts["replaced"]:
        result.warnings.append(f"{counts['replaced']} pose track(s) replaced an earlier "
                               "import of the same image")
    return counts["new"]
