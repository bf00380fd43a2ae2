"""`export` and `import`: benchmark/training exports of a project's QA set, and imports of
QA or pose files into a project (no Qt imported)."""
from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    from models.export import FORMATS  # noqa: PLC0415
    from models.importers import IMPORTERS  # noqa: PLC0415

    ex = sub.add_parser("export", help="export a project's QA items to a benchmark/training format")
    ex.add_argument("project_file", metavar="PROJECT", help="project file (.aastudio)")
    ex.add_argument("--format", required=True, choices=sorted(FORMATS), help="export format")
    ex.add_argument("--out", required=True,
                    help="output folder (empty, new, or an earlier export with --overwrite)")
    ex.add_argument("--status", nargs="+", default=["accepted"],
                    help="review statuses to export (default: accepted)")
    ex.add_argument("--tasks", nargs="+", default=None, help="only these sub-tasks")
    ex.add_argument("--name", default="actionart", help="benchmark name (default actionart)")
    ex.add_argument("--video-root", default=None,
                    help="folder the items' relative video paths live in (default: from the project's clips)")
    ex.add_argument("--no-copy-videos", action="store_true",
                    help="reference the source videos instead of copying/cutting clips")
    ex.add_argument("--frames", type=int, default=8, help="frames per item for image formats")
    ex.add_argument("--overwrite", action="store_true",
                    help="replace an earlier export in the output folder (never other files)")
    ex.add_argument("--skip-missing", action="store_true",
                    help="export without the items whose video is missing")
    ex.add_argument("--layout", default=None, type=_layouts, metavar="LIST",
                    help="proxy-training only: comma-separated layouts to write, of llava, "
                         "messages, sharegpt (LLaMA-Factory), swift (ms-swift) (default: all)")
    ex.set_defaults(func=run_export)
    im = sub.add_parser("import", help="import QA items or poses from a file into a project")
    im.add_argument("file", help="a .jsonl/.json file")
    im.add_argument("--format", default=None, choices=sorted(IMPORTERS),
                    help="file format (default: detected)")
    im.add_argument("--project", default=argparse.SUPPRESS, help="project file")
    im.set_defaults(func=run_import)


def _layouts(text: str) -> tuple:
    from models.export import ExportError  # noqa: PLC0415
    from models.export.proxy_trainers import parse_layouts  # noqa: PLC0415

    try:
        return parse_layouts(text)
    except ExportError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _records(repo, args) -> list:
    from models.export import ExportError  # noqa: PLC0415

    damaged: list = []
    records = repo.qa_records({"status": args.status, "task": args.tasks or None}, damaged)
    for _qa_id, why in damaged:
        print(f"warning: {why}; it is left out of the export", file=sys.stderr)
    if not records and args.format != "coco-keypoints":
        where = f" in sub-tasks {', '.join(args.tasks)}" if args.tasks else ""
        also = f" ({len(damaged)} damaged items left out)" if damaged else ""
        raise ExportError(f"Nothing to export: no items with status {', '.join(args.status)}"
                          f"{where} in {args.project_file}{also}")
    return records


def _video_root(repo, args, records):
    from models.export.project import project_video_root  # noqa: PLC0415

    return args.video_root or project_video_root(repo, records)


def run_export(args) -> int:
    from models.export import ExportError, ExportOptions, MissingVideosError, export  # noqa: PLC0415
    from models.export.project import prepare_options  # noqa: PLC0415
    from models.store import Repository  # noqa: PLC0415

    if args.layout is not None and args.format != "proxy-training":
        raise ExportError("--layout applies to the proxy-training format only")
    repo = Repository(args.project_file, allow_read_only=True)
    try:
        records = _records(repo, args)
        options = ExportOptions(name=args.name, video_root=_video_root(repo, args, records),
                                copy_videos=not args.no_copy_videos, overwrite=args.overwrite,
                                skip_missing=args.skip_missing, frames_per_item=args.frames)
        damaged: list = []
        prepare_options(args.format, repo, records, options, damaged)
        if args.layout is not None:
            options.extra = dict(options.extra, layouts=list(args.layout))
        for _video, why in damaged:
            print(f"warning: {why}; its poses are left out of the export", file=sys.stderr)
        try:
            report = export(args.format, records, args.out, options)
        except MissingVideosError as exc:
            for qa_id, path in exc.missing:
                print(f"missing video: {qa_id}: {path}", file=sys.stderr)
            raise
    finally:
        repo.close()
    for qa_id, why in report.skipped:
        print(f"skipped {qa_id}: {why}", file=sys.stderr)
    print(report.summary())
    return 0


def run_import(args) -> int:
    from models.importers import import_file  # noqa: PLC0415
    from models.store import Repository  # noqa: PLC0415

    repo = Repository(getattr(args, "project", None))
    try:
        result, added = import_file(repo, args.file, args.format)
    finally:
        repo.close()
    total = len(result.records) if result.poses is None else len(result.poses.persons)
    for warning in result.warnings:
        print(f"note: {warning}", file=sys.stderr)
    print(f"{result.summary()}; {added} new of {total} stored")
    return 0
