"""`synth-qa` and `import-captions`: QA generation and caption import (no Qt imported)."""
from __future__ import annotations

import argparse
import json
import os
import sys

from cli.argtypes import positive_int


def register(sub) -> None:
    syn = sub.add_parser("synth-qa", help="generate multiple-choice QA from pose facts")
    syn.add_argument("target", help="a video file or a dataset folder")
    syn.add_argument("--tasks", default=None,
                     help="comma-separated sub-task ids (default: every pose-derivable one; "
                          "with --people also the interaction_* ones about pairs of people)")
    syn.add_argument("--per-clip", type=int, default=12, help="items per clip (default 12)")
    syn.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    syn.add_argument("--options", type=int, default=4, help="options per question (2-5)")
    syn.add_argument("--extract-poses", action="store_true",
                     help="extract poses of clips that have none (default: report them)")
    syn.add_argument("--people", action="store_true",
                     help="items about every person of a clip whose people are stored in the "
                          "project (the people stage), each named by their place in the picture, "
                          "and items about pairs of them (interaction_*)")
    syn.add_argument("--from-text", action="store_true",
                     help="generate from the project's captions and saved model answers "
                          "through --model (human_object_interaction, action_sequence)")
    syn.add_argument("--sources", default="captions,answers",
                     help="with --from-text: comma-separated text sources: captions, answers "
                          "(saved model answers), descriptions (pose descriptions and "
                          "difference texts of the clips' extracted poses)")
    syn.add_argument("--model", help="with --from-text: checkpoint folder, cached id or URL")
    syn.add_argument("--device", default="auto", help="with --model: auto, cuda, mps or cpu")
    syn.add_argument("--max-new-tokens", type=int, default=None,
                     help="with --model: output token limit (default: the prompt template's)")
    syn.add_argument("--concurrency", type=positive_int, default=None, metavar="N",
                     help="with --model: sources asked at once (default: an HTTP "
                          "endpoint's concurrency, e.g. 8; 1 for a local model)")
    syn.add_argument("--json", action="store_true", help="print the summary as JSON")
    syn.add_argument("--quiet", action="store_true", help="no progress bar")
    syn.add_argument("--project", default=argparse.SUPPRESS, help="project file")
    syn.set_defaults(func=run_synth)
    cap = sub.add_parser("import-captions", help="import captions from CSV/JSON/JSONL")
    cap.add_argument("file", help="FILE.csv (video,text[,start_s,end_s]) or FILE.json/.jsonl")
    cap.add_argument("--project", default=argparse.SUPPRESS, help="project file")
    cap.set_defaults(func=run_import_captions)
    chk = sub.add_parser("qa-check", help="quality report of the project's QA items")
    chk.add_argument("--task", help="only this sub-task")
    chk.add_argument("--no-poses", action="store_true",
                     help="skip re-deriving pose-fact items from the cached poses")
    chk.add_argument("--blind-model", help="also run the blind test with this model")
    chk.add_argument("--device", default="auto", help="with --blind-model: auto, cuda or cpu")
    chk.add_argument("--json", action="store_true", help="print the report as JSON")
    chk.add_argument("--project", default=argparse.SUPPRESS, help="project file")
    chk.set_defaults(func=run_check)


def _settings(args):
    from models.qa.synth import SynthSettings  # noqa: PLC0415
    from models.qa.taxonomy import task_ids  # noqa: PLC0415

    # the interaction ("pairs") sub-tasks ask about two people: on by default with --people
    default = task_ids("pose") + (task_ids("pairs") if getattr(args, "people", False) else [])
    tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip()) if args.tasks \
        else tuple(default)
    return SynthSettings(tasks=tasks, per_clip=args.per_clip, seed=args.seed,
                         n_options=args.options)


def _load_backend(spec: str, repo, device: str):
    from models.jobs import JobContext  # noqa: PLC0415
    from models.vlm.specs import backend_for  # noqa: PLC0415

    backend = backend_for(spec, repo, device=device)
    backend.load(JobContext())
    return backend


def run_synth(args) -> int:
    if args.from_text:
        return run_synth_text(args)
    from cli.poses import ProgressBar, expand_paths  # noqa: PLC0415
    from models.jobs import JobContext  # noqa: PLC0415
    from models.pose.native_logs import NativeLogsMuted  # noqa: PLC0415
    from models.engine.stored_people import people_loader  # noqa: PLC0415
    from models.qa.generate import generate_qa, require_poses  # noqa: PLC0415
    from models.store import Repository  # noqa: PLC0415

    settings = _settings(args)
    videos = expand_paths([args.target])
    root = args.target if os.path.isdir(args.target) else None
    repo = Repository(getattr(args, "project", None))
    try:
        with NativeLogsMuted():  # mediapipe's native log lines while extracting
            bar = ProgressBar(enabled=not args.quiet and sys.stderr.isatty())
            try:
                summary = generate_qa(repo, videos, settings, JobContext(on_progress=bar),
                                      root=root, extract=args.extract_poses,
                                      people=people_loader(repo) if args.people else None)
            finally:
                bar.finish()
    finally:
        repo.close()
    return _report(summary, args.json, require_poses)


def _report(summary, as_json: bool, require_poses) -> int:
    if as_json:
        print(json.dumps({"generated": summary.generated, "clips": summary.clips,
                          "skipped": summary.skipped, "no_poses": summary.no_poses,
                          "per_task": summary.per_task}))
    else:
        print(summary.line())
        for task, n in sorted(summary.per_task.items()):
            print(f"  {task:<20} {n}")
    require_poses(summary)
    if summary.no_poses:
        print(f"note: {len(summary.no_poses)} clip(s) have no extracted poses "
              f"({', '.join(summary.no_poses[:3])}); add --extract-poses to extract them",
              file=sys.stderr)
    return 0


def run_synth_text(args) -> int:
    from models.errors import StudioError  # noqa: PLC0415
    from models.qa.from_text import TextSettings, generate_from_text  # noqa: PLC0415
    from models.store import Repository  # noqa: PLC0415

    if not args.model:
        raise StudioError("--from-text needs --model (a checkpoint folder, cached id or URL)")
    repo = Repository(getattr(args, "project", None))
    try:
        video = None if os.path.isdir(args.target) else os.path.basename(args.target)
        sources = _text_sources(args, repo, video)
        if not sources:
            raise StudioError(f"No {args.sources.replace(',', ' or ')} texts for {args.target}; "
                              "import captions first (python main.py import-captions FILE)"
                              " or extract poses and add --sources descriptions")
        backend = _load_backend(args.model, repo, args.device)
        stats = generate_from_text(repo, backend, sources,
                                   TextSettings(per_text=args.per_clip, n_options=args.options,
                                                seed=args.seed,
                                                max_new_tokens=args.max_new_tokens),
                                   max_concurrency=args.concurrency)
    finally:
        repo.close()
    print(f"{stats.items} QA items from {stats.outputs} model outputs; rejected "
          f"{stats.invalid_outputs} invalid outputs and {stats.rejected_items} invalid items"
          + (f"; {stats.failed} source(s) got no answer (run again to ask them)"
             if stats.failed else ""))
    for video, reason in stats.reasons[:5]:
        print(f"  rejected ({video}): {reason}", file=sys.stderr)
    return 0


def _text_sources(args, repo, video) -> list:
    from cli.poses import expand_paths  # noqa: PLC0415
    from models.errors import StudioError  # noqa: PLC0415
    from models.pose.extract import cached_track  # noqa: PLC0415
    from models.qa import from_text  # noqa: PLC0415

    kinds = [k.strip() for k in args.sources.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in ("captions", "answers", "descriptions")]
    if unknown:
        raise StudioError(f"Unknown text source '{unknown[0]}' (known: captions, answers, "
                          "descriptions)")
    out = []
    if "captions" in kinds:
        out += from_text.caption_sources(repo, video)
    if "answers" in kinds:
        out += from_text.answer_sources(repo, video)
    if "descriptions" in kinds:
        for path in expand_paths([args.target]):
            track = cached_track(repo, path)
            if track is not None:
                out += from_text.pose_text_sources(track, os.path.basename(path))
    return out


def run_check(args) -> int:
    from models.qa import checks  # noqa: PLC0415
    from models.store import Repository  # noqa: PLC0415

    # the blind test stores its flags; the report alone only reads
    repo = Repository(getattr(args, "project", None), allow_read_only=not args.blind_model)
    try:
        records = repo.qa_records({"task": args.task} if args.task else None)
        blind = None
        if args.blind_model:
            blind = checks.blind_test(records, _load_backend(args.blind_model, repo, args.device))
            repo.set_qa_flags("blind", blind)
        answerable, unchecked = ({}, []) if args.no_poses else \
            checks.answerability_flags(records, _video_tracks(repo), _video_people(repo))
    finally:
        repo.close()
    report = checks.quality_report(records, blind)
    for qid, why in answerable.items():
        report["flags"].setdefault(qid, []).extend(why)
        for w in why:
            kind = w.split(" (")[0]
            report["flag_counts"][kind] = report["flag_counts"].get(kind, 0) + 1
    report["unchecked_no_poses"] = len(unchecked)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    print(f"{report['items']} items")
    for n, b in report["balance"].items():
        print(f"  answer positions with {n} options: {b['counts']}"
              f"{'' if b['balanced'] else '  (unbalanced)'}")
    for kind, count in sorted(report["flag_counts"].items()):
        print(f"  {kind}: {count}")
    if unchecked:
        print(f"  not checked against poses (no cached poses of the clip): {len(unchecked)}")
    return 0


def _video_tracks(repo):
    """video (as stored in QA items: a path relative to the dataset root) -> the clip's
    complete cached track, found through the project's clip table (the clip whose path
    ends with it; None when there is none or more than one candidate)."""
    from models.pose.extract import _settings  # noqa: PLC0415
    from models.pose.registry import DEFAULT_BACKEND  # noqa: PLC0415

    clips = repo.clips()
    cache: dict = {}

    def load(video: str):
        if video not in cache:
            rel = "/" + video.replace(os.sep, "/").lstrip("/")
            rows = [c for c in clips if ("/" + c["path"].replace(os.sep, "/")).endswith(rel)]
            digests = {c["content_hash"] for c in rows}
            track = None
            if len(digests) == 1:
                digest = digests.pop()
                track = repo.load_track(digest, DEFAULT_BACKEND, _settings(DEFAULT_BACKEND, None),
                                        complete_only=True)
                if track is not None and track.times is None:
                    times = repo.frame_times(digest)
                    if times is not None:
                        track.times = times.times(range(len(track)))
            cache[video] = track
        return cache[video]
    return load


def _video_people(repo):
    """(video, person) -> that person's stored track (``models.engine.stored_people``),
    the clip found as ``_video_tracks`` finds it; None when there is none."""
    from models.engine.stored_people import stored_people  # noqa: PLC0415

    clips = repo.clips()
    cache: dict = {}

    def load(video: str, person: int):
        if video not in cache:
            rel = "/" + video.replace(os.sep, "/").lstrip("/")
            rows = [c for c in clips if ("/" + c["path"].replace(os.sep, "/")).endswith(rel)]
            paths = [c["path"] for c in rows if os.path.isfile(c["path"])]
            tracks = {}
            if len({c["content_hash"] for c in rows}) == 1 and paths:
                tracks = stored_people(repo, paths[0])
            cache[video] = tracks
        return cache[video].get(person)
    return load


def run_import_captions(args) -> int:
    from models.qa.captions import import_captions  # noqa: PLC0415
    from models.store import Repository  # noqa: PLC0415

    repo = Repository(getattr(args, "project", None))
    try:
        n = import_captions(repo, args.file)
    finally:
        repo.close()
    print(f"imported {n} captions from {os.path.basename(args.file)}")
    return 0
