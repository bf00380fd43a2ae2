"""Poses as COCO keypoints JSON (through models/pose/coco.py), frames written beside.

Input: ``options.extra["tracks"]``: a list of ``(video, PoseTrack)`` (video relative to
the video root). Every frame with a pose becomes one image entry (``file_name`` =
``frames/<video>/<frame>.jpg``, written when ``copy_videos``). Two files: COCO-17
(``<name>_coco17.json``) and BlazePose-33 (``<name>_blazepose33.json``), each with its
keypoint names and a filled ``skeleton`` list; both re-import with ``load_coco``.
"""
from __future__ import annotations

import sys

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
    for video, track in sorted(tracks, key=lambda t: str(t[0])):
        ctx.check()
        stem = video_stem(str(video))
        posed = [int(f) for f in np.flatnonzero(track.has_pose)]
        names = media.frame_files_at(video, posed) if copy_frames else \
            [f"frames/{stem}/{f:06d}.jpg" for f in posed]
        for f, name in zip(posed, names):
            image_id = len(images) + 1
            im = CocoImage(image_id, name, int(track.width), int(track.height))
            im.persons.append(person_from_pose(track.image[f], track.width, track.height,
                                               image_id, image_id))
            images.append(im)
    return images


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
