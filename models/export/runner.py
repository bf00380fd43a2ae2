"""Run one exporter: validate the set and the output folder, write into a temp folder with
a manifest of what was written, rename into place."""
from __future__ import annotations

import shutil
from pathlib import Path
from types import ModuleType
from typing import Optional

from ..jobs import NULL_CONTEXT, JobContext
from .base import (MANIFEST, ExportError, ExportOptions, ExportReport, ExportSink,
                   MissingVideosError, check_out_dir, commit_dir, explain_os_error,
                   manifest_text, temp_dir_for)
from .media import Media, missing_export_videos, source_path


def ordered(records) -> list:
    """Fixed order independent of how the caller listed them: by task, then qa_id."""
    return sorted(records, key=lambda r: (str(r.task), str(r.qa_id)))


def select_present(records, options: ExportOptions, needs_video: bool, report: ExportReport):
    if not needs_video:
        return records
    missing = missing_export_videos(records, options.video_root)
    if missing and not options.skip_missing:
        raise MissingVideosError(missing)
    gone = {q for q, _ in missing}
    report.skipped = [(q, f"video not found: {p}") for q, p in missing]
    return [r for r in records if r.qa_id not in gone]


def protected_paths(records, options: ExportOptions) -> list:
    """What no export may land on or replace: the caller's list (project file, clips),
    the video root and every item's source video."""
    return list(options.protected) + [options.video_root] + sorted(
        {str(source_path(r, options.video_root)) for r in records})


def run_export(module: ModuleType, records, out_dir, options: Optional[ExportOptions] = None,
               ctx: JobContext = NULL_CONTEXT) -> ExportReport:
    options = options or ExportOptions()
    out_dir = Path(out_dir)
    report = ExportReport(format=module.ID, out_dir=str(out_dir))
    records = ordered(records)
    empty_ok = getattr(module, "ALLOWS_EMPTY", False)
    if not records and not empty_ok:
        raise ExportError("Nothing to export: the set has no accepted items")
    needs = getattr(module, "NEEDS_VIDEO", True) and (options.copy_videos
                                                      or getattr(module, "NEEDS_FRAMES", False))
    records = select_present(records, options, needs, report)
    if not records and not empty_ok:
        raise ExportError("Nothing to export: every item's video is missing")
    check_out_dir(out_dir, options.overwrite, protected_paths(records, options))
    tmp = temp_dir_for(out_dir)
    try:
        sink = ExportSink(tmp)
        media = Media(sink, options)
        report.items = module.write(records, sink, media, options, ctx)
        report.skipped.extend(media.skipped)
        report.files = sorted(sink.written)
        sink.write_text(MANIFEST, manifest_text(module.ID, report.files, report.items))
        commit_dir(tmp, out_dir)
    except OSError as exc:
        raise ExportError(explain_os_error(exc, out_dir)) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return report
