"""What pose extraction needs of a project store, as a protocol.

The project store (``models.store.Repository``) sits above ``models.pose``: it persists
pose tracks. Extraction only needs these few methods, so it is written against this
protocol, and a batch that opens stores in worker processes is handed an opener (the
store class itself, or any callable taking the project path) instead of importing one.
"""
from __future__ import annotations

from typing import Callable, Optional, Protocol

from ..video import VideoInfo
from .track import PoseTrack


class PoseStore(Protocol):
    """A project that caches clips' hashes and properties and their pose tracks."""

    path: str

    def clip_hash(self, path, info: Optional[VideoInfo] = None) -> str: ...

    def clip_info(self, path) -> VideoInfo: ...

    def clip_by_path(self, path) -> Optional[dict]: ...

    def upsert_clip(self, info: VideoInfo, digest: Optional[str] = None) -> int: ...

    def save_track(self, digest: str, track: PoseTrack) -> None: ...

    def load_track(self, digest: str, backend: str, settings: dict,
                   complete_only: bool = False) -> Optional[PoseTrack]: ...

    def close(self) -> None: ...


# Opens the project at a path; must pickle (worker processes open their own connection).
PoseStoreOpener = Callable[[str], PoseStore]
