"""A pose track: one person's landmarks for every frame of a clip, as numpy arrays.

``image``: (frames, joints, 4) = normalised x, y in [0, 1] of the frame, relative z,
visibility. ``world``: (frames, joints, 4) = x, y, z in metres (MediaPipe convention:
origin between the hips, y pointing down), visibility. A frame without a pose is all NaN.
``damage``: optional (frames,) picture damage score of each decoded frame
(``models.pose.damage``; NaN where not measured; None for tracks extracted before it was
kept).
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..video import FrameTimes


@dataclass
class PoseTrack:
    image: np.ndarray
    world: np.ndarray
    fps: float
    width: int
    height: int
    backend: str = ""
    backend_version: str = ""
    settings: dict = field(default_factory=dict)
    skeleton: str = "blazepose33"
    frames_done: int = -1  # frames processed so far (== len when complete)
    times: Optional[np.ndarray] = None  # presentation time (s) of each frame; None: frame / fps
    damage: Optional[np.ndarray] = None  # picture damage score of each frame; None: not kept

    def __post_init__(self) -> None:
        self.image = np.asarray(self.image, dtype=np.float32)
        self.world = np.asarray(self.world, dtype=np.float32)
        if self.times is not None:
            self.times = np.asarray(self.times, dtype=np.float64)
            if self.times.shape != (len(self.image),):
                raise ValueError(f"times {self.times.shape} must have one entry per frame "
                                 f"({len(self.image)})")
        if self.damage is not None:
            self.damage = np.asarray(self.damage, dtype=np.float32)
            if self.damage.shape != (len(self.image),):
                raise ValueError(f"damage {self.damage.shape} must have one entry per frame "
                                 f"({len(self.image)})")
        if self.image.shape != self.world.shape or self.image.ndim != 3 or self.image.shape[2] != 4:
            raise ValueError(f"image {self.image.shape} and world {self.world.shape} "
                             "must both be (frames, joints, 4)")
        if self.frames_done < 0:
            self.frames_done = len(self.image)

    @classmethod
    def empty(cls, frames: int, joints: Optional[int] = None, **kw) -> "PoseTrack":
        """A track of ``frames`` frames without a pose; ``joints`` defaults to the joint
        count of the track's skeleton (``skeleton=`` in ``kw``, BlazePose by default)."""
        if joints is None:
            from .people import skeleton_of  # noqa: PLC0415 (people imports this module)

            joints = skeleton_of(kw.get("skeleton", "blazepose33")).n
        nan = np.full((frames, joints, 4), np.nan, dtype=np.float32)
        return cls(nan, nan.copy(), frames_done=0, **kw)

    def __len__(self) -> int:
        return len(self.image)

    @property
    def complete(self) -> bool:
        return self.frames_done >= len(self)

    @property
    def has_pose(self) -> np.ndarray:
        """(frames,) bool: a pose was found on that frame."""
        return ~np.isnan(self.image[:, :, 0]).all(axis=1)

    @property
    def timeline(self) -> FrameTimes:
        """Frame -> seconds for this track (the clip's own frame times when known)."""
        return FrameTimes(self.fps, self.times, len(self))

    def time_of(self, frame: int) -> float:
        return self.timeline.time_of(frame)

    def pixels(self, frame: int) -> np.ndarray:
        """(joints, 3) pixel x, y and visibility for one frame (NaN where missing)."""
        p = self.image[frame]
        return np.stack([p[:, 0] * self.width, p[:, 1] * self.height, p[:, 3]], axis=1)

    def meta(self) -> dict:
        return {"fps": self.fps, "width": self.width, "height": self.height,
                "backend": self.backend, "backend_version": self.backend_version,
                "settings": self.settings, "skeleton": self.skeleton,
                "frames_done": self.frames_done, "frames": len(self)}

    # --- serialisation: npz of plain arrays + JSON metadata, never pickles ----------
    def to_npz_bytes(self) -> bytes:
        return npz_bytes(self.meta(), image=self.image, world=self.world, times=self.times,
                         damage=self.damage)

    @classmethod
    def from_npz_bytes(cls, data: bytes) -> "PoseTrack":
        z, meta = read_npz(data)
        return cls(z["image"], z["world"], meta["fps"], meta["width"], meta["height"],
                   meta["backend"], meta["backend_version"], meta["settings"],
                   meta["skeleton"], meta["frames_done"], z.get("times"), z.get("damage"))

    def save(self, path) -> None:
        """Write ``.npz`` or ``.json`` depending on the suffix."""
        path = str(path)
        if path.endswith(".json"):
            doc = dict(self.meta())
            doc["image"] = _nan_to_none(self.image)
            doc["world"] = _nan_to_none(self.world)
            if self.times is not None:
                doc["times"] = [round(float(t), 6) for t in self.times]
            if self.damage is not None:
                doc["damage"] = _nan_to_none(self.damage)
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(doc, fh)
        else:
            with open(path, "wb") as fh:
                fh.write(self.to_npz_bytes())

    @classmethod
    def load(cls, path) -> "PoseTrack":
        path = str(path)
        if path.endswith(".json"):
            with open(path, encoding="utf-8") as fh:
                d = json.load(fh)
            arr = lambda k: np.array(d[k], dtype=np.float32)  # noqa: E731 (None -> nan)
            return cls(arr("image"), arr("world"), d["fps"], d["width"], d["height"],
                       d["backend"], d["backend_version"], d["settings"], d["skeleton"],
                       d["frames_done"], d.get("times"),
                       None if d.get("damage") is None else arr("damage"))
        with open(path, "rb") as fh:
            return cls.from_npz_bytes(fh.read())


def _nan_to_none(a: np.ndarray) -> list:
    out = np.round(a.astype(np.float64), 6).astype(object)
    out[np.isnan(a)] = None
    return out.tolist()


def npz_bytes(meta: dict, **arrays) -> bytes:
    """Arrays (``None`` ones left out) and JSON metadata as compressed npz bytes."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: v for k, v in arrays.items() if v is not None},
                        meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    return buf.getvalue()


def read_npz(data: bytes) -> tuple[dict, dict]:
    """The arrays and the metadata of ``npz_bytes`` output, never unpickling anything."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "meta"}
        return arrays, json.loads(bytes(z["meta"]).decode())
