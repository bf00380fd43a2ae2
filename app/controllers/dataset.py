"""Dataset controller: the list of clips (one file or a folder) and their properties.

Properties (duration, resolution, fps, thumbnail, pose status) are computed in the
background, one CPU job per clip, and announced with ``clipInfo(path, dict)``.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QObject, Signal

from models.errors import StudioError
from models.pose.registry import DEFAULT_BACKEND, get as get_backend
from models.store.repo_poses import settings_key
from models.video import VideoReader, container_times, is_video_path, list_videos, with_times

if TYPE_CHECKING:
    from models.pose.storage import ClipStore, PoseStore


def pose_status(repo: ClipStore, path, backend_id: str = DEFAULT_BACKEND, info=None) -> str:
    """'done', 'partial N/M' or 'none' for the default backend's settings."""
    key = settings_key(get_backend(backend_id).settings())
    for row in repo.track_status(repo.clip_hash(path, info)):
        if row["backend"] == backend_id and row["settings_key"] == key:
            if row["complete"]:
                return "done"
            return f"partial {row['frames_done']}/{row['frames']}"
    return "none"


def reliable_share(repo: PoseStore, path, backend_id: str = DEFAULT_BACKEND, info=None):
    """Share (0..1) of the frames whose cached pose is reliable (``models.pose.reliability``),
    None without a complete cached track."""
    from models.pose.reliability import judge  # noqa: PLC0415
    track = repo.load_track(repo.clip_hash(path, info), backend_id,
                            get_backend(backend_id).settings(), complete_only=True)
    return None if track is None else judge(track).share


def clip_properties(path, repo: ClipStore, ctx=None) -> dict:
    """Everything the clip list shows for one clip; errors become an 'error' entry."""
    out = {"path": str(path), "name": os.path.basename(str(path))}
    try:
        with VideoReader(path) as reader:  # one open for the properties and the thumbnail
            out["info"] = reader.info
            out["thumbnail"] = reader.thumbnail(max_side=96)
        times = container_times(path, out["info"])   # the container's index: no decoding
        if times is not None:
            out["info"] = with_times(out["info"], times)
        out["vfr"] = bool(times is not None and times.vfr)
        out["poses"] = pose_status(repo, path, info=out["info"])
        out["reliable"] = reliable_share(repo, path, info=out["info"]) if out["poses"] == "done" else None
    except StudioError as exc:
        out["error"] = str(exc)
    return out


class DatasetController(QObject):
    clipsChanged = Signal(list)        # paths, in display order
    clipInfo = Signal(str, dict)       # path, properties (see clip_properties)

    def __init__(self, ctx, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.root: Optional[str] = None
        self.paths: list[str] = []
        self.info: dict[str, dict] = {}
        self._jobs = []
        ctx.poses.finished.connect(self.refresh)   # the list's pose status follows the work
        ctx.poses.cancelled.connect(lambda path, _msg: self.refresh(path))

    def open_folder(self, folder) -> list[str]:
        """List the videos of ``folder``; raises VideoError when it is not a folder."""
        paths = [str(p) for p in list_videos(folder)]
        self.root = os.path.abspath(str(folder))
        self._set(paths)
        return paths

    def set_single(self, path) -> None:
        self.root = None
        self._set([os.path.abspath(str(path))] if is_video_path(path) else [])

    def _set(self, paths: list[str]) -> None:
        for job in self._jobs:
            job.cancel()
        self.paths, self.info = paths, {}
        self.clipsChanged.emit(list(paths))
        self._jobs = [self._probe(p) for p in paths]

    def _probe(self, path: str):
        return self.ctx.jobs.submit(clip_properties, path, self.ctx.repo, kind="cpu",
                                    on_result=self._on_info)

    def _on_info(self, props: dict) -> None:
        if props["path"] in self.paths:
            self.info[props["path"]] = props
            self.clipInfo.emit(props["path"], props)

    def refresh(self, path: str) -> None:
        """Recompute one clip's properties (e.g. after its poses were extracted)."""
        path = os.path.abspath(str(path))
        if path in self.paths:
            self._jobs.append(self._probe(path))

    @property
    def loaded(self) -> bool:
        return len(self.info) == len(self.paths)
