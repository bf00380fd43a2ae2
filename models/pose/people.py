"""Every person in a clip: per-frame poses of several people, one persistent id per person.

``People`` holds ``image`` and ``world`` arrays of shape (frames, persons, joints, 4) in the
``PoseTrack`` conventions (image: normalised x, y, relative z, visibility; world: metres,
visibility), plus ``ids``: one track id per person slot, the same person on every frame of
that slot. A person absent from a frame is all NaN there. The joint count comes from the
named skeleton (``models.pose.skeleton``).

Single-person code keeps working on ``PoseTrack``: ``person(id)`` returns that person's
track for the whole clip (NaN on frames where the person is not seen), so describing,
comparing, motion and QA run per person unchanged. ``from_track`` wraps an existing
single-person track as a clip with one person.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

from ..video import FrameTimes
from .skeleton import Skeleton, blazepose, coco17
from .track import PoseTrack, npz_bytes, read_npz

_SKELETONS: dict[str, Callable[[], Skeleton]] = {"blazepose33": blazepose, "coco17": coco17}


def skeleton_of(skeleton_id: str) -> Skeleton:
    """The skeleton definition named by a track's ``skeleton`` field."""
    try:
        return _SKELETONS[skeleton_id]()
    except KeyError:
        raise ValueError(f"unknown skeleton {skeleton_id!r} "
                         f"(known: {', '.join(sorted(_SKELETONS))})") from None


@dataclass
class People:
    image: np.ndarray          # (frames, persons, joints, 4)
    world: np.ndarray          # (frames, persons, joints, 4)
    ids: np.ndarray            # (persons,) int64 track id of each person slot
    fps: float
    width: int
    height: int
    backend: str = ""
    backend_version: str = ""
    settings: dict = field(default_factory=dict)
    skeleton: str = "blazepose33"
    frames_done: int = -1
    times: Optional[np.ndarray] = None   # presentation time (s) of each frame
    damage: Optional[np.ndarray] = None  # picture damage score of each frame

    def __post_init__(self) -> None:
        self.image = np.asarray(self.image, dtype=np.float32)
        self.world = np.asarray(self.world, dtype=np.float32)
        self.ids = np.asarray(self.ids, dtype=np.int64).reshape(-1)
        joints = skeleton_of(self.skeleton).n
        if (self.image.ndim != 4 or self.image.shape != self.world.shape
                or self.image.shape[2:] != (joints, 4)):
            raise ValueError(f"image {self.image.shape} and world {self.world.shape} must both "
                             f"be (frames, persons, {joints}, 4) for skeleton {self.skeleton}")
        if self.ids.shape != (self.image.shape[1],):
            raise ValueError(f"ids {self.ids.shape} must have one entry per person slot "
                             f"({self.image.shape[1]})")
        if len(np.unique(self.ids)) != len(self.ids) or (self.ids < 0).any():
            raise ValueError(f"person ids must be distinct and non-negative: {self.ids.tolist()}")
        for name in ("times", "damage"):
            value = getattr(self, name)
            if value is not None:
                value = np.asarray(value, dtype=np.float64 if name == "times" else np.float32)
                if value.shape != (len(self.image),):
                    raise ValueError(f"{name} {value.shape} must have one entry per frame "
                                     f"({len(self.image)})")
                setattr(self, name, value)
        if self.frames_done < 0:
            self.frames_done = len(self.image)

    # --- construction ----------------------------------------------------------------
    @classmethod
    def empty(cls, frames: int, skeleton: str = "blazepose33", **kw) -> "People":
        """A clip of ``frames`` frames with nobody in it."""
        shape = (frames, 0, skeleton_of(skeleton).n, 4)
        return cls(np.zeros(shape, np.float32), np.zeros(shape, np.float32),
                   np.zeros(0, np.int64), skeleton=skeleton, **kw)

    @classmethod
    def from_track(cls, track: PoseTrack, person_id: int = 0) -> "People":
        """A single-person track as a clip with one person (``person_id``)."""
        return cls(track.image[:, None], track.world[:, None], np.array([person_id]), track.fps,
                   track.width, track.height, track.backend, track.backend_version,
                   dict(track.settings), track.skeleton, track.frames_done,
                   track.times, track.damage)

    @classmethod
    def from_frames(cls, frames: Sequence[Sequence], ids: Sequence,
                    fps: float, width: int, height: int, skeleton: str = "blazepose33",
                    **kw) -> "People":
        """Assemble from per-frame detections and the track id of each detection.

        ``frames[f]`` lists the detections of frame f, each either an image pose
        (joints, 4) or an ``(image, world)`` pair as ``process_all`` returns;
        ``ids[f][k]`` is the id of detection k (negative: not a person to keep, e.g.
        tracking noise). World poses are NaN where a detection has none.
        """
        if len(frames) != len(ids):
            raise ValueError(f"{len(frames)} frames of detections but {len(ids)} of ids")
        joints = skeleton_of(skeleton).n
        kept = sorted({int(i) for row in ids for i in row if int(i) >= 0})
        slot = {pid: s for s, pid in enumerate(kept)}
        image = np.full((len(frames), len(kept), joints, 4), np.nan, np.float32)
        world = image.copy()
        for f, (dets, row) in enumerate(zip(frames, ids)):
            if len(dets) != len(row):
                raise ValueError(f"frame {f}: {len(dets)} detections but {len(row)} ids")
            seen: set = set()
            for det, pid in zip(dets, row):
                pid = int(pid)
                if pid < 0:
                    continue
                if pid in seen:
                    raise ValueError(f"frame {f}: person {pid} appears twice")
                seen.add(pid)
                img, wld = split_detection(det)
                if img.shape != (joints, 4) or (wld is not None and wld.shape != (joints, 4)):
                    raise ValueError(f"frame {f}: a detection of shape {img.shape} does not fit "
                                     f"skeleton {skeleton} ({joints} joints)")
                image[f, slot[pid]] = img
                if wld is not None:
                    world[f, slot[pid]] = wld
        return cls(image, world, np.array(kept, dtype=np.int64), fps, width, height,
                   skeleton=skeleton, **kw)

    # --- queries -----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.image)

    @property
    def joints(self) -> int:
        return self.image.shape[2]

    @property
    def complete(self) -> bool:
        return self.frames_done >= len(self)

    @property
    def timeline(self) -> FrameTimes:
        return FrameTimes(self.fps, self.times, len(self))

    def persons(self) -> list[int]:
        """Track ids of the people in the clip, in slot order."""
        return [int(i) for i in self.ids]

    def _slot(self, person_id: int) -> int:
        hits = np.flatnonzero(self.ids == int(person_id))
        if not len(hits):
            raise KeyError(f"no person {person_id} in this clip (persons: {self.persons()})")
        return int(hits[0])

    @property
    def present(self) -> np.ndarray:
        """(frames, persons) bool: that person has a pose on that frame."""
        return ~np.isnan(self.image[..., 0]).all(axis=2)

    def coverage(self, person_id: int) -> np.ndarray:
        """(frames,) bool: the frames on which that person is seen."""
        return self.present[:, self._slot(person_id)]

    def count(self) -> np.ndarray:
        """(frames,) number of people seen on each frame."""
        return self.present.sum(axis=1)

    def on_frame(self, frame: int) -> list[int]:
        """Ids of the people seen on one frame."""
        return [int(i) for i in self.ids[self.present[frame]]]

    def person(self, person_id: int) -> PoseTrack:
        """That person's pose track over the whole clip (NaN where the person is absent)."""
        s = self._slot(person_id)
        return PoseTrack(self.image[:, s].copy(), self.world[:, s].copy(), self.fps,
                         self.width, self.height, self.backend, self.backend_version,
                         dict(self.settings), self.skeleton, self.frames_done,
                         None if self.times is None else self.times.copy(),
                         None if self.damage is None else self.damage.copy())

    def main_person(self) -> Optional[int]:
        """The person seen on the most frames (ties: the larger mean box); None if nobody."""
        if not len(self.ids):
            return None
        frames = self.present.sum(axis=0)
        xy = self.image[..., :2].astype(np.float64) * (self.width, self.height)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: absent frames
            size = np.nanmax(xy, axis=2) - np.nanmin(xy, axis=2)  # (frames, persons, 2)
            area = np.nan_to_num(np.nanmean(size[..., 0] * size[..., 1], axis=0), nan=0.0)
        best = max(range(len(self.ids)), key=lambda s: (frames[s], area[s], -self.ids[s]))
        return int(self.ids[best])

    def meta(self) -> dict:
        return {"fps": self.fps, "width": self.width, "height": self.height,
                "backend": self.backend, "backend_version": self.backend_version,
                "settings": self.settings, "skeleton": self.skeleton,
                "frames_done": self.frames_done, "frames": len(self),
                "persons": self.persons()}

    # --- serialisation: npz of plain arrays + JSON metadata, never pickles ------------------
    def to_npz_bytes(self) -> bytes:
        return npz_bytes(self.meta(), image=self.image, world=self.world, ids=self.ids,
                         times=self.times, damage=self.damage)

    @classmethod
    def from_npz_bytes(cls, data: bytes) -> "People":
        z, meta = read_npz(data)
        return cls(z["image"], z["world"], z["ids"], meta["fps"], meta["width"],
                   meta["height"], meta["backend"], meta["backend_version"],
                   meta["settings"], meta["skeleton"], meta["frames_done"],
                   z.get("times"), z.get("damage"))


def split_detection(det) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """(image, world or None) of one detection: an image array or an (image, world) pair."""
    if isinstance(det, (tuple, list)):
        img = np.asarray(det[0], dtype=np.float32)
        wld = None if len(det) < 2 or det[1] is None else np.asarray(det[1], dtype=np.float32)
        return img, wld
    return np.asarray(det, dtype=np.float32), None

