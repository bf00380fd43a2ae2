"""Inputs some formats take beyond the QA records, gathered from a project: the cached pose
tracks of the items' clips (COCO poses; every clip of the project when no item is chosen)
and the describers' texts (proxy training data)."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Optional

from ..errors import ProjectDamaged, StudioError
from ..qa.record import QARecord
from .media import guess_video_root, video_path

if TYPE_CHECKING:
    from ..pose.storage import ClipStore


def project_video_root(repo: ClipStore, records) -> Optional[str]:
    """The folder the records' relative video paths live in, found among the project's clips."""
    return guess_video_root([c["path"] for c in repo.clips()], records)


def project_paths(repo: ClipStore) -> list:
    """The project file, its clips and their folders (the project's video roots)."""
    clips = [str(c["path"]) for c in repo.clips()]
    return [str(repo.path)] + clips + sorted({os.path.dirname(p) for p in clips})


def project_tracks(repo: ClipStore, records, video_root: Optional[str],
                   damaged: Optional[list] = None) -> list:
    """(video, PoseTrack) of every item clip that has a complete cached track; a clip whose
    cached track is damaged is left out and (video, problem) added to ``damaged``."""
    from ..pose.extract import cached_track  # noqa: PLC0415

    out = []
    for video in sorted({r.video for r in records}):
        path = video_path(video, video_root)
        try:
            track = cached_track(repo, path) if path.is_file() else None
        except ProjectDamaged as exc:
            if damaged is not None:
                damaged.append((video, str(exc)))
            track = None
        except StudioError:
            track = None
        if track is not None:
            out.append((video, track))
    return out


def all_project_tracks(repo: ClipStore, damaged: Optional[list] = None) -> tuple[list, Optional[str]]:
    """(video relative to the clips' common folder, PoseTrack) of every project clip with
    a complete cached track, and that common folder."""
    paths = [c["path"] for c in repo.clips() if os.path.isfile(c["path"])]
    if not paths:
        return [], None
    root = os.path.commonpath([os.path.dirname(p) for p in paths])
    recs = [QARecord("v", "v", os.path.relpath(p, root).replace(os.sep, "/"), "", ["", ""], 0)
            for p in paths]
    return project_tracks(repo, recs, root, damaged), root


def prepare_options(format_id: str, repo: ClipStore, records, options,
                    damaged: Optional[list] = None) -> None:
    """Fill ``options.extra`` (and the video root for a whole-project pose export) and
    ``options.protected`` (what no export may replace); clips whose cached poses are damaged
    are left out and listed in ``damaged``."""
    options.protected = project_paths(repo)
    if options.extra:
        return
    if format_id == "coco-keypoints" and not records:
        tracks, root = all_project_tracks(repo, damaged)
        options.extra, options.video_root = {"tracks": tracks}, root
        return
    options.extra = extra_for(format_id, repo, records, options.video_root, damaged)


def extra_for(format_id: str, repo: ClipStore, records, video_root: Optional[str],
              damaged: Optional[list] = None) -> dict:
    """``ExportOptions.extra`` for ``format_id`` (empty for formats that need nothing)."""
    if format_id not in ("proxy-training", "coco-keypoints"):
        return {}
    tracks = project_tracks(repo, records, video_root, damaged)
    if format_id == "coco-keypoints":
        return {"tracks": tracks}
    from .proxy_sources import pose_descriptions, spatial_differences  # noqa: PLC0415

    return {"pose_descriptions": pose_descriptions(tracks),
            "spatial_differences": spatial_differences(tracks, records)}
