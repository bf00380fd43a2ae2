"""What pose extraction needs of a project store, as a protocol.

The project store (``models.store.Repository``) sits above ``models.pose``: it persists
pose tracks. Extraction only needs these few methods, so it is written against this
protocol (``ClipStore`` adds the clip list), and a batch that opens stores in worker
processes is handed an opener (the store class itself, or any callable taking the project
path) instead of importing one.
"""
from __future__ import annotations

from typing import Callable, Optional, Protocol, runtime_checkable

from ..video import FrameTimes, VideoInfo
from .track import PoseTrack


@runtime_checkable
class PoseStore(Protocol):
    """A project that caches clips' hashes and properties and their pose tracks."""

    path: str

    def clip_hash(self, path, info: Optional[VideoInfo] = None) -> str: ...

    def clip_info(self, path) -> VideoInfo: ...

    def save_frame_times(self, digest: str, times: Optional[FrameTimes]) -> None: ...

    def clip_by_path(self, path) -> Optional[dict]: ...

    def upsert_clip(self, info: VideoInfo, digest: Optional[str] = None) -> int: ...

    def save_track(self, digest: str, track: PoseTrack) -> None: ...

    def load_track(self, digest: str, backend: str, settings: dict,
                   complete_only: bool = False) -> Optional[PoseTrack]: ...

    def close(self) -> None: ...


@runtime_checkable
class ClipStore(PoseStore, Protocol):
    """A pose store that also lists its clips and the tracks cached per clip (exports, the
    clip list)."""

    def clips(self) -> list[dict]: ...

    def track_status(self, digest: str) -> list[dict]: ...


@runtime_checkable
class PeopleStore(PoseStore, Protocol):
    """A pose store that keeps every person of an extraction: person 0 is the main subject
    (the track ``save_track``/``load_track`` see), other people are numbered by their
    persistent track ids."""

    def save_person_track(self, digest: str, person: int, track: PoseTrack) -> None: ...

    def save_person_tracks(self, digest: str, tracks: dict) -> None: ...

    def load_person_tracks(self, digest: str, backend: str, settings: dict,
                           complete_only: bool = False) -> dict[int, PoseTrack]: ...


# Opens the project at a path; must pickle (worker processes open their own connection).
PoseStoreOpener = Callable[[str], PoseStore]
