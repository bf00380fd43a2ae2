"""The ``people`` stage: every person of a clip, each with one persistent id.

``people`` [probe]: the clip is decoded once (the extraction's decode thread and its
bounded frame queue), every frame goes through the multi-person landmarker's
``process_all`` (``mediapipe-multi``, IMAGE mode, so no frame depends on another), and the
per-frame detections are tracked across frames (``models.pose.tracking.track_people``).

Result: ``people`` (bytes: ``People.to_npz_bytes``, read with ``people_from_result``),
``persons`` (tracker ids, in slot order), ``coverage`` ({id: frames the person is seen
on}), ``main`` (``People.main_person()``, None for an empty clip), ``person_of``
({tracker id: the person number a project stores it under: 0 for the main person, then
1..N in tracker id order}), ``frames``, ``frames_with_people``, ``fps``, ``width``,
``height``, ``backend``, ``backend_version``, ``settings`` (the landmarker's settings plus
the tracker's under ``"tracker"``: the key under which a project keeps these tracks),
``declared_frames``, ``trimmed``.

Params: ``max_persons`` (the landmarker's ``num_poses``; default 4), ``gate``,
``max_gap``, ``min_length`` (the tracker's, defaults of ``TrackerParams``),
``allow_truncated`` (default false: a clip that stops decoding before its declared end is
an error). The stage adds nothing to the ``poses`` stage: its tracks are kept under other
settings, so a merge never replaces a ``poses`` track.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

from ...errors import PoseError, StudioError, VideoError
from ...jobs import JobContext
from ..stage import Stage, Task, register
from .basic import _bad, _flag, _number, _params, _truncated, plain

BACKEND = "mediapipe-multi"
MAX_PERSONS = 64      # more people than one landmarker call is asked for: a typo


def _tracker(p: dict):
    from ...pose.tracking import TrackerParams  # noqa: PLC0415

    gate = _number("people", p, "gate", 0.0)
    if gate <= 0:
        raise _bad("people", "gate", "a number above 0", p["gate"])
    return TrackerParams(gate=gate, max_gap=_number("people", p, "max_gap", 0, integer=True),
                         min_length=_number("people", p, "min_length", 1, integer=True))


def people_settings(max_persons: int, tracker) -> dict:
    """The settings the tracks of one ``people`` run are stored under."""
    from ...pose import registry  # noqa: PLC0415

    settings = registry.get(BACKEND).settings({"num_poses": int(max_persons)})
    settings["tracker"] = {"gate": float(tracker.gate), "max_gap": int(tracker.max_gap),
                           "min_length": int(tracker.min_length)}
    return settings


def numbering(people) -> dict[int, int]:
    """{tracker id: person number}: the main person is 0, the others 1..N by tracker id."""
    main = people.main_person()
    if main is None:
        return {}
    others = sorted(i for i in people.persons() if i != main)
    return {main: 0, **{pid: n for n, pid in enumerate(others, start=1)}}


def person_tracks(people) -> dict:
    """{person number: PoseTrack} of every person (see ``numbering``), for
    ``Repository.save_person_tracks``."""
    return {n: people.person(pid) for pid, n in numbering(people).items()}


def people_from_result(result: Mapping[str, Any]):
    """The ``People`` of a ``people`` result (never unpickles)."""
    from ...pose.people import People  # noqa: PLC0415

    data = result.get("people") if isinstance(result, Mapping) else None
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise StudioError("The people result holds no people (its 'people' bytes are missing)")
    try:
        return People.from_npz_bytes(bytes(data))
    except (ValueError, KeyError, OSError, TypeError) as exc:
        raise StudioError(f"The people result cannot be read: {exc}") from None


def _detect_all(path: str, estimator, ctx: JobContext):
    """(info, frame times, per-frame detections, per-frame damage) of the whole clip."""
    import numpy as np  # noqa: PLC0415

    from ...pose.damage import damage_score  # noqa: PLC0415
    from ...pose.extract import _Decoder  # noqa: PLC0415
    from ...video import VideoReader, probe  # noqa: PLC0415

    name = os.path.basename(path)
    times = probe(path).times
    detections: list = []
    damage: list = []
    with VideoReader(path) as reader:
        reader.set_times(times)
        info = reader.info
        total = info.frame_count
        stamps = info.timeline.times(range(total)) if total else np.zeros(0)
        decoder = _Decoder(reader, 0)        # decodes ahead into a bounded queue
        try:
            decoder.start()
            for index, frame in decoder.items():
                ctx.check()
                stamp = int(round(float(stamps[index]) * 1000)) if index < len(stamps) else 0
                try:
                    found = estimator.process_all(frame, stamp)
                except Exception as exc:  # noqa: BLE001 (backend failures become one line)
                    raise PoseError(f"Pose backend failed on frame {index} of {name}: "
                                    f"{exc}") from None
                detections.append(found)
                damage.append(damage_score(frame))
                ctx.progress(len(detections), total, name)
        finally:
            decoder.stop()
    return info, detections, np.asarray(damage, dtype=np.float32)


def people_stage(task: Task, ctx: JobContext) -> dict:
    import numpy as np  # noqa: PLC0415

    from ...pose import registry  # noqa: PLC0415
    from ...pose.tracking import track_people  # noqa: PLC0415

    p = _params(task)
    most = _number("people", p, "max_persons", 1, integer=True, high=MAX_PERSONS)
    tracker = _tracker(p)
    allow = _flag("people", p, "allow_truncated")
    settings = people_settings(most, tracker)
    path = task.item.video
    name = os.path.basename(path)
    estimator = registry.get(BACKEND).create({k: v for k, v in settings.items()
                                              if k != "tracker"})
    try:
        info, detections, damage = _detect_all(path, estimator, ctx)
        version = estimator.version
    finally:
        estimator.close()
    n = len(detections)
    if n == 0:
        raise VideoError(f"{name}: no frame could be decoded")
    trimmed = n < info.frame_count
    if trimmed and not allow:
        raise _truncated(name, n, info.frame_count, "set allow_truncated to keep the frames before")
    people = track_people(detections, info.fps, info.width, info.height, tracker,
                          backend=BACKEND, backend_version=version, settings=settings,
                          times=info.timeline.times(range(n)), damage=damage)
    persons = people.persons()
    coverage = {str(pid): int(people.coverage(pid).sum()) for pid in persons}
    return plain({"people": people.to_npz_bytes(), "persons": persons, "coverage": coverage,
                  "main": people.main_person(),
                  "person_of": {str(k): v for k, v in numbering(people).items()},
                  "frames": n, "frames_with_people": int(np.count_nonzero(people.count())),
                  "fps": float(info.fps), "width": int(info.width), "height": int(info.height),
                  "backend": BACKEND, "backend_version": version, "settings": settings,
                  "declared_frames": int(info.frame_count), "trimmed": bool(trimmed)})


# the tracker's own defaults (``TrackerParams``), written out so registering stays light
DEFAULTS = {"max_persons": 4, "gate": 0.5, "max_gap": 15, "min_length": 3,
            "allow_truncated": False}


def _register() -> None:
    register(Stage(name="people", version="1", fn=people_stage, needs=("probe",),
                   resource="cpu", defaults=dict(DEFAULTS),
                   describe="every person of the clip, tracked with persistent ids"))


_register()
