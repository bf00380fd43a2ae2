"""``describe``, ``diff`` and ``motion`` commands: deterministic pose facts from a clip.

    python main.py describe VIDEO --frame N [--person P] [--json]
    python main.py diff VIDEO --a N --b M [--video-b OTHER] [--person P] [--json]
    python main.py motion VIDEO --start S --end E [--signal NAME] [--person P] [--json]

The pose track comes from ``models.pose.extract.extract_video`` (cached in the project
store, so only the first call decodes). ``--person P`` describes person P of the people a
``people`` run stored in the project (0 = the main person) and names them by their place in
the picture ("The person on the left ..."); a person that is not stored, or that cannot be
told apart from the others over the frames asked about, is an error. Bad input ends with
one line on stderr and a non-zero exit code (the dispatcher prints ``StudioError``
messages).
"""
from __future__ import annotations

import argparse
import json

from cli.argtypes import FRACTION, SECONDS, non_negative_int


def register(sub) -> None:
    p = sub.add_parser("describe", help="describe the pose on one frame")
    p.add_argument("video")
    p.add_argument("--frame", type=int, required=True, help="frame index (0-based)")
    _common(p, run_describe)
    p = sub.add_parser("diff", help="what changed in the body between frame A and frame B")
    p.add_argument("video")
    p.add_argument("--a", type=int, required=True, help="frame A (0-based)")
    p.add_argument("--b", type=int, required=True, help="frame B (0-based)")
    p.add_argument("--video-b", help="take frame B from this clip instead")
    _common(p, run_diff)
    p = sub.add_parser("motion", help="temporal facts over an interval")
    p.add_argument("video")
    p.add_argument("--start", type=SECONDS, required=True, help="seconds")
    p.add_argument("--end", type=SECONDS, required=True, help="seconds")
    p.add_argument("--signal", default=None,
                   help="count repetitions on this signal, e.g. 'left knee angle' (default: "
                        "the most periodic one)")
    _common(p, run_motion)


def _common(p, func) -> None:
    p.add_argument("--project", default=argparse.SUPPRESS, help="project file (pose cache)")
    p.add_argument("--json", action="store_true", help="print the facts as JSON")
    p.add_argument("--min-visibility", type=FRACTION, default=None,
                   help="landmark visibility a fact needs (default from resources/posecodes.json)")
    p.add_argument("--person", type=non_negative_int, default=None, metavar="P",
                   help="person number among the people stored for the clip (0 = main person)")
    p.set_defaults(func=func)


def _project(args):
    return getattr(args, "project", None)


def load_track(path, project=None):
    """The cached or freshly extracted pose track of ``path`` (mediapipe's native log lines
    are kept off stderr, so a failure stays one line)."""
    from models.pose.extract import extract_video  # noqa: PLC0415
    from models.pose.native_logs import NativeLogsMuted  # noqa: PLC0415
    from models.store import Repository  # noqa: PLC0415

    repo = Repository(project, allow_read_only=True)  # extraction then says it is read-only
    try:
        with NativeLogsMuted():
            return extract_video(path, repo)
    finally:
        repo.close()


def load_person(path, person: int, project=None):
    """(track of ``person``, every stored person's track) of the clip at ``path``, from the
    people stored in the project (``models.engine.stored_people``)."""
    from models.engine.stored_people import person_track  # noqa: PLC0415
    from models.store import Repository  # noqa: PLC0415

    repo = Repository(project, allow_read_only=True)
    try:
        return person_track(repo, path, person)
    finally:
        repo.close()


def person_subject(tracks: dict, person: int, first: int, last: int, where: str) -> str:
    """The referent naming ``person`` over frames ``first``..``last`` (inclusive); an error
    when it is ambiguous there. With several people stored, a span where only this person
    is found names them "person N" (the others may be in the picture, lost by the
    landmarker), never "the person"."""
    from models.describe import DescribeError  # noqa: PLC0415
    from models.describe.referents import SINGLE, referents  # noqa: PLC0415

    first, last = min(first, last), max(first, last)
    subject = referents(tracks, first, last + 1).get(person)
    if subject is None:
        raise DescribeError(f"Person {person} cannot be told apart from the others {where} "
                            "(too close to another person, crossing, or barely seen).")
    if subject == SINGLE and len(tracks) > 1:
        return f"person {person}"
    return subject


def _tracks(args, video: str, first: int, last: int, where: str):
    """(track, subject, extra JSON fields) for ``args.person`` or the clip's one track."""
    if args.person is None:
        return load_track(video, _project(args)), "the person", {}
    track, tracks = load_person(video, args.person, _project(args))
    subject = person_subject(tracks, args.person, first, last, where)
    return track, subject, {"person": args.person, "person_referent": subject}


def _check_frames(video: str, **frames) -> None:
    """Refuse out-of-range frame numbers before any pose extraction (cheap probe)."""
    from models.describe import DescribeError  # noqa: PLC0415
    from models.video import probe  # noqa: PLC0415

    n = probe(video).frame_count
    for label, frame in frames.items():
        if frame is not None and not 0 <= frame < n:
            raise DescribeError(f"Frame {label}{frame} is out of range: {video} has {n} frames.")


def _emit(args, text: str, doc: dict) -> int:
    if args.json:
        doc["text"] = text
        print(json.dumps(doc, indent=1))
    else:
        print(text)
    return 0


def _time_s(track, frame: int):
    """Presentation time of ``frame`` (seconds), None when the track has no clock."""
    from models.describe.doc import time_s  # noqa: PLC0415

    return time_s(track, frame)


def frame_doc(track, video: str, frame: int, min_visibility=None) -> tuple[str, dict]:
    """(text, JSON document) that ``describe --json`` prints for one frame of ``track``
    (``models.describe.doc.frame_doc``: the gold-set scorer and the dataset engine's
    ``describe`` stage use the same)."""
    from models.describe.doc import frame_doc as doc  # noqa: PLC0415

    return doc(track, video, frame, min_visibility)


def run_describe(args) -> int:
    _check_frames(args.video, **{"": args.frame})
    track, subject, who = _tracks(args, args.video, args.frame, args.frame,
                                  f"on frame {args.frame}")
    from models.describe.doc import frame_doc as doc_of  # noqa: PLC0415

    text, doc = doc_of(track, args.video, args.frame, args.min_visibility, subject)
    doc.update(who)
    return _emit(args, text, doc)


def run_diff(args) -> int:
    from models.diff import check_compatible, describe_diff, diff_facts, frame_world  # noqa: PLC0415

    video_b = args.video_b or args.video
    _check_frames(args.video, **{"A=": args.a})
    _check_frames(video_b, **{"B=": args.b})
    if video_b == args.video:
        ta, subject, who = _tracks(args, args.video, args.a, args.b,
                                   f"between frames {args.a} and {args.b}")
        tb = ta
    else:
        ta, subject, who = _tracks(args, args.video, args.a, args.a, f"on frame {args.a}")
        tb, subject_b, _ = _tracks(args, video_b, args.b, args.b, f"on frame {args.b} of {video_b}")
        if subject_b != subject:
            from models.describe import DescribeError  # noqa: PLC0415
            raise DescribeError(f"Person {args.person} is {subject} in A but {subject_b} in B; "
                                "compare frames where they stand on the same side.")
    check_compatible(ta, tb, args.video, video_b)
    wa = frame_world(ta, args.a, "A=", args.video)
    wb = frame_world(tb, args.b, "B=", video_b)
    facts = diff_facts(wa, wb, args.a, args.b, args.min_visibility)
    doc = {"video_a": args.video, "frame_a": args.a, "video_b": video_b, "frame_b": args.b,
           "time_a_s": _time_s(ta, args.a), "time_b_s": _time_s(tb, args.b),
           "backend": ta.backend, "facts": [f.to_dict() for f in facts], **who}
    return _emit(args, describe_diff(facts, subject), doc)


def run_motion(args) -> int:
    from models.motion import check_interval, describe_motion, motion_facts  # noqa: PLC0415
    from models.video import probe  # noqa: PLC0415

    info = probe(args.video)
    first, last = check_interval(info.frame_count, info.fps, args.start, args.end,
                                 info.times)  # before extraction
    track, subject, who = _tracks(args, args.video, first, last,
                                  f"between {args.start:g} s and {args.end:g} s")
    facts = motion_facts(track, track.fps, args.start, args.end, args.min_visibility, args.signal)
    dicts = [f.to_dict() for f in facts]
    for d in dicts:
        d["extra"].pop("series", None)
    doc = {"video": args.video, "start_s": args.start, "end_s": args.end, "fps": track.fps,
           "backend": track.backend, "facts": dicts, **who}
    return _emit(args, describe_motion(facts, subject), doc)

