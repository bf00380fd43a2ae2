"""Exporters: one module per format, listed in a registry (id, label, description).

Each format module has ``ID``, ``LABEL``, ``DESCRIPTION``, ``NEEDS_VIDEO``, a
``write(records, sink, media, options, ctx) -> int`` and ``export(records, out_dir,
options, ctx) -> ExportReport``. ``export(format_id, ...)`` dispatches by id.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from .base import ExportError, ExportOptions, ExportReport, MissingVideosError  # noqa: F401

# format id -> module under models/export/
FORMATS: dict[str, str] = {
    "jsonl": "models.export.canonical",
    "lmms-eval": "models.export.lmms_eval",
    "vlmevalkit-video": "models.export.vlmevalkit",
    "vlmevalkit-frames": "models.export.vlmevalkit_frames",
    "hf-dataset": "models.export.hf_dataset",
    "proxy-training": "models.export.proxy",
    "coco-keypoints": "models.export.coco_poses",
}


@dataclass(frozen=True)
class FormatInfo:
    id: str
    label: str
    description: str
    module: str


def module_for(format_id: str):
    if format_id not in FORMATS:
        raise ExportError(f"Unknown export format '{format_id}'; known: {', '.join(FORMATS)}")
    return importlib.import_module(FORMATS[format_id])


def formats() -> list[FormatInfo]:
    out = []
    for fid, mod_name in FORMATS.items():
        mod = importlib.import_module(mod_name)
        out.append(FormatInfo(fid, mod.LABEL, mod.DESCRIPTION, mod_name))
    return out


def export(format_id: str, records, out_dir, options=None, ctx=None) -> ExportReport:
    from ..jobs import NULL_CONTEXT  # noqa: PLC0415

    return module_for(format_id).export(records, out_dir, options, ctx or NULL_CONTEXT)
