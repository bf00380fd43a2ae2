"""Poses as COCO keypoints JSON (through models/pose/coco.py), frames written beside.

Input: ``options.extra["tracks"]``: a list of ``(video, PoseTrack)`` (video relative to
the video root), or ``(video, {person: PoseTrack})`` for every person of the clip (person
0: the main subject). Every frame with a pose becomes one image entry (``file_name`` =
``frames/<video>/<frame>.jpg``, written when ``copy_videos``) holding one annotation per
person posed there, with the person's ``track_id`` (and ``actionart.person``) when the
people were given. Two files: COCO-17
(``<name>_coco17.json``) and BlazePose-33 (``<name>_blazepose33.json``), each with its
keypoint names and a filled ``skeleton`` list; both re-import with ``load_coco``.
"""
from __future__ import annotations

import sys
from collections.abc import Mapping

import numpy as np

from ..jobs import NULL_CONTEXT
from .base import ExportError, dumps_line, safe_name
from .media import video_stem
from .runner import run_export

ID = "coco-keypoints"
LABEL = "Poses as COCO keypoints JSON"
DESCRIPTION = "COCO-17 and BlazePose-33 keypoint files with skeletons, frames beside."
NEEDS_VIDEO = False
ALLOWS_EMPTY = True


def _images(tracks, media, copy_frames: bool, ctx) -> list:
    from ..pose.coco import CocoImage, person_from_pose  # noqa: PLC0415

    images: list = []
    ann_id = 0
    for video, people in sorted(tracks, key=lambda t: str(t[0])):
        ctx.check()
        people = _people(video, people)
        first = next(iter(people.values()))
        stem = video_stem(str(video))
        posed = sorted({int(f) for t in people.values() for f in np.flatnonzero(t.has_pose)})
        names = media.frame_files_at(video, posed) if copy_frames else \
            [f"frames/{stem}/{f:06d}.jpg" for f in posed]
        for f, name in zip(posed, names):
            image_id = len(images) + 1
            im = CocoImage(image_id, name, int(first.width), int(first.height))
            for person, track in people.items():
                if f < len(track) and track.has_pose[f]:
                    ann_id += 1
                    im.persons.append(person_from_pose(track.image[f], track.width, track.height,
                                                       ann_id, image_id, track_id=person))
            images.append(im)
    return images


def _people(video, people) -> dict:
    """{person: track} of one clip (a lone track: the main subject, without a track id)."""
    if not isinstance(people, Mapping):
        return {None: people}
    if not people:
        raise ExportError(f"Nothing to export for {video}: no person's track was given")
    sizes = {(int(t.width), int(t.height)) for t in people.values()}
    if len(sizes) > 1:
        raise ExportError(f"The people of {video} have tracks of different frame sizes")
    return {int(p): people[p] for p in sorted(people)}


def write(records, sink, media, options, ctx=NULL_CONTEXT) -> int:
    from ..pose.coco import coco_document  # noqa: PLC0415

    tracks = (options.extra or {}).get("tracks") or []
    if not tracks:
        raise ExportError("Nothing to export: no pose tracks were given")
    images = _images(tracks, media, options.copy_videos, ctx)
    if not images:
        raise ExportError("Nothing to export: the pose tracks hold no detected poses")
    name = safe_name(options.name)
    for variant in ("coco17", "blazepose33"):
        sink.write_text(f"{name}_{variant}.json", dumps_line(coco_document(images, variant)))
    return len(images)


def export(records, out_dir, options=None, ctx=NULL_CONTEXT):
    return run_export(sys.modules[__name__], records or [], out_dir, options, ctx)
