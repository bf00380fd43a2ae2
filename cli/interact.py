"""``interact`` command: what can be told about two people of a clip on one frame.

    python main.py interact VIDEO --frame N [--a P --b Q] [--json]

Every person of the clip comes from the project's stored people tracks (backend
"mediapipe-multi", the ``people`` stage's default settings); when the project has none for
the clip they are extracted once (the engine's ``people`` stage) and stored, unless the
project is read-only. ``--a``/``--b`` are person numbers (0 = the main person); by default
the two people seen on the frame with the lowest numbers. Bad input ends with one
``error:`` line and a non-zero exit status.
"""
from __future__ import annotations

import os

import argparse
import json

from cli.argtypes import FRACTION


def register(sub) -> None:
    p = sub.add_parser("interact", help="facts between two people on one frame")
    p.add_argument("video")
    p.add_argument("--frame", type=int, required=True, help="frame index (0-based)")
    p.add_argument("--a", type=int, default=None, help="person number of the first person")
    p.add_argument("--b", type=int, default=None, help="person number of the second person")
    p.add_argument("--project", default=argparse.SUPPRESS, help="project file (pose cache)")
    p.add_argument("--json", action="store_true", help="print the facts as JSON")
    p.add_argument("--min-visibility", type=FRACTION, default=None,
                   help="landmark visibility a fact needs (default from resources/posecodes.json)")
    p.set_defaults(func=run_interact)


def load_people(path: str, project=None) -> dict:
    """{person number: PoseTrack} of every person of ``path`` (stored, else extracted and
    stored when the project can be written)."""
    from models.engine.desktop import cached_people, extract_people  # noqa: PLC0415
    from models.pose.native_logs import NativeLogsMuted  # noqa: PLC0415
    from models.store import Repository  # noqa: PLC0415

    repo = Repository(project, allow_read_only=True)
    try:
        tracks = cached_people(repo, path)
        if tracks:
            return tracks
        if getattr(repo.db, "read_only", False):
            from models.errors import StudioError  # noqa: PLC0415

            raise StudioError(f"No people are stored for {os.path.basename(path)} and the "
                              "project is read-only: extract them with 'extract-poses --people' "
                              "into a project you can write")
        with NativeLogsMuted():
            return extract_people(path, repo)
    finally:
        repo.close()


def _pick(tracks: dict, frame: int, a, b) -> tuple[int, int]:
    """(a, b): the named people, the missing ones filled with people seen on ``frame``
    (then any), lowest numbers first."""
    import numpy as np  # noqa: PLC0415

    from models.describe import DescribeError  # noqa: PLC0415

    for label, p in (("--a", a), ("--b", b)):
        if p is not None and p not in tracks:
            raise DescribeError(f"There is no person {p} ({label}) in this clip; its people "
                                f"are {', '.join(map(str, sorted(tracks))) or 'none'}.")
    if a is not None and a == b:
        raise DescribeError("--a and --b name the same person.")
    seen = [p for p in sorted(tracks)
            if frame < len(tracks[p].image) and bool(np.isfinite(tracks[p].image[frame, :, 0]).any())]
    rest = list(dict.fromkeys(p for p in seen + sorted(tracks) if p not in (a, b)))
    if a is None:
        a = rest.pop(0) if rest else None
    if b is None:
        b = next((p for p in rest if p != a), None)
    if a is None or b is None:
        raise DescribeError(f"The clip has {len(tracks)} person(s); interaction needs two.")
    return a, b


def run_interact(args) -> int:
    from cli.describe import _check_frames  # noqa: PLC0415
    from models.describe.interaction import describe_pair, pair_facts  # noqa: PLC0415

    _check_frames(args.video, **{"": args.frame})
    tracks = load_people(args.video, getattr(args, "project", None))
    a, b = _pick(tracks, args.frame, args.a, args.b)
    text = describe_pair(tracks, a, b, args.frame, args.min_visibility)
    if args.json:
        facts = pair_facts(tracks[a], tracks[b], args.frame, (a, b), args.min_visibility)
        doc = {"video": args.video, "frame": args.frame, "persons": [a, b],
               "time_s": round(float(tracks[a].time_of(args.frame)), 3),
               "facts": [f.to_dict() for f in facts], "text": text}
        print(json.dumps(doc, indent=1))
    else:
        print(text)
    return 0
