"""MediaPipe BlazePose "full" (legacy ``solutions.pose`` API, model bundled in the wheel).

``process`` returns the main subject's landmarks. The legacy graph follows one person;
when it loses that person it re-detects whoever its detector likes best, which in a
multi-person clip can be somebody else. ``SubjectGate`` keeps the track on one person:
a pose whose torso centre jumps further than plausible from the last accepted pose is
rejected, and from then on the graph only sees the region around the subject (see
``MediaPipePose``); a frame where the subject is not found has no pose (NaN).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

TORSO = (11, 12, 23, 24)  # shoulders and hips: the subject's centre
MODEL_NAME = "pose_landmark_full"


def _landmarks(result) -> Optional[tuple[np.ndarray, np.ndarray]]:
    if result.pose_landmarks is None:
        return None
    img = np.array([[p.x, p.y, p.z, p.visibility] for p in result.pose_landmarks.landmark],
                   dtype=np.float32)
    if result.pose_world_landmarks is not None:
        world = np.array([[p.x, p.y, p.z, p.visibility]
                          for p in result.pose_world_landmarks.landmark], dtype=np.float32)
    else:
        world = np.full_like(img, np.nan)
    return img, world


def torso_centre(image_pose: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixel (x, y) of the mean of shoulders and hips."""
    pts = image_pose[list(TORSO), :2].astype(np.float64)
    return pts.mean(axis=0) * (width, height)


def pose_box(image_pose: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixel box (x0, y0, x1, y1) around all landmarks."""
    xy = image_pose[:, :2].astype(np.float64) * (width, height)
    return np.concatenate([np.nanmin(xy, axis=0), np.nanmax(xy, axis=0)])


@dataclass
class SubjectState:
    centre: np.ndarray      # pixel torso centre of the last accepted pose
    box: np.ndarray         # pixel box of the last accepted pose
    timestamp_ms: int

    @property
    def size(self) -> float:
        return float(max(self.box[2] - self.box[0], self.box[3] - self.box[1], 1.0))


class SubjectGate:
    """Decides whether a pose belongs to the subject followed so far."""

    def __init__(self, jump: float = 0.35, speed: float = 0.25, reacquire_s: float = 2.0) -> None:
        self.jump = jump            # allowed torso displacement, x subject size, at dt=0
        self.speed = speed          # extra allowance (x size) per second unseen
        self.reacquire_s = reacquire_s  # unseen this long: follow whoever appears (0 = never)
        self.state: Optional[SubjectState] = None

    def unseen_s(self, timestamp_ms: int) -> float:
        assert self.state is not None, "no subject followed yet"
        return max(0.0, (timestamp_ms - self.state.timestamp_ms) / 1000.0)

    def expired(self, timestamp_ms: int) -> bool:
        return (self.state is None or
                (self.reacquire_s > 0 and self.unseen_s(timestamp_ms) >= self.reacquire_s))

    def accepts(self, image_pose: np.ndarray, w: int, h: int, timestamp_ms: int) -> bool:
        if self.expired(timestamp_ms):
            return True
        assert self.state is not None  # expired() is True while no subject is followed
        allowed = self.state.size * min(self.jump + self.speed * self.unseen_s(timestamp_ms), 1.0)
        dist = float(np.linalg.norm(torso_centre(image_pose, w, h) - self.state.centre))
        return dist <= allowed

    def update(self, image_pose: np.ndarray, w: int, h: int, timestamp_ms: int) -> None:
        self.state = SubjectState(torso_centre(image_pose, w, h), pose_box(image_pose, w, h),
                                  timestamp_ms)

    def search_box(self, w: int, h: int, timestamp_ms: int,
                   margin: float = 0.35) -> tuple[int, int, int, int]:
        """Pixel box around the last known subject: its box grown by ``margin`` per axis
        (a thin side-on box counts as at least 0.4 of its height wide) plus ``speed`` x
        size per second unseen."""
        assert self.state is not None, "no subject followed yet"
        x0, y0, x1, y1 = self.state.box
        grow = self.speed * self.state.size * self.unseen_s(timestamp_ms)
        bw, bh = x1 - x0, y1 - y0
        px, py = margin * max(bw, 0.4 * bh) + grow, margin * max(bh, 0.4 * bw) + grow
        return (int(max(0, x0 - px)), int(max(0, y0 - py)),
                int(min(w, x1 + px)), int(min(h, y1 + py)))


def mask_outside(rgb: np.ndarray, box, fill: int = 114) -> np.ndarray:
    """A copy of ``rgb`` with everything outside pixel ``box`` set to flat grey."""
    x0, y0, x1, y1 = box
    out = np.full_like(rgb, fill)
    out[y0:y1, x0:x1] = rgb[y0:y1, x0:x1]
    return out


class MediaPipePose:
    """One BlazePose tracking graph plus the subject gate. One thread at a time.

    Once a detection of somebody else has been rejected the estimator is *locked*: the
    graph sees only the region around the subject (the rest of the frame is masked), so
    its own tracker and re-detector stay on that person. Masking keeps full-frame
    coordinates, so the graph's tracking and smoothing keep working. The lock is dropped
    when the subject has been unseen for ``subject_reacquire_s``.
    """

    def __init__(self, settings: dict) -> None:
        import mediapipe as mp  # noqa: PLC0415 (heavy: only when a backend is built)

        self._mp = mp
        self.settings = dict(settings)
        self.static = bool(settings.get("static_image_mode", False))
        self.name = "mediapipe-full"
        self.version = f"mediapipe {mp.__version__} / {MODEL_NAME}"
        self._pose = self._make(static=self.static)
        self.gate = SubjectGate(float(settings.get("subject_jump", 0.35)),
                                float(settings.get("subject_speed", 0.25)),
                                float(settings.get("subject_reacquire_s", 2.0)))
        self.lock_subject = bool(settings.get("subject_lock", True)) and not self.static
        self.locked = False
        self.rejected = 0  # detections of somebody else that were refused (diagnostics)

    def _make(self, static: bool):
        s = self.settings
        return self._mp.solutions.pose.Pose(
            static_image_mode=static, model_complexity=int(s.get("model_complexity", 1)),
            smooth_landmarks=bool(s.get("smooth_landmarks", True)) and not static,
            min_detection_confidence=float(s.get("min_detection_confidence", 0.5)),
            min_tracking_confidence=float(s.get("min_tracking_confidence", 0.5)))

    def _run(self, rgb: np.ndarray):
        return _landmarks(self._pose.process(rgb))

    def process(self, rgb: np.ndarray, timestamp_ms: int = 0):
        """(image (joints, 4), world (joints, 4)) of the main subject on this frame, or None."""
        rgb = np.ascontiguousarray(rgb)
        if not self.lock_subject:
            return self._run(rgb)
        h, w = rgb.shape[:2]
        if self.locked and self.gate.expired(timestamp_ms):
            self.locked = False
        frame = mask_outside(rgb, self.gate.search_box(w, h, timestamp_ms)) if self.locked else rgb
        found = self._run(frame)
        if found is not None and not self.gate.accepts(found[0], w, h, timestamp_ms):
            self.rejected += 1
            found = self._relock(rgb, timestamp_ms)
        if found is not None:
            self.gate.update(found[0], w, h, timestamp_ms)
        return found

    def _relock(self, rgb: np.ndarray, timestamp_ms: int):
        """The graph followed somebody else: hide everyone but the subject's region and
        let the graph drop that person (first pass) and re-detect the subject (second)."""
        h, w = rgb.shape[:2]
        self.locked = True
        masked = mask_outside(rgb, self.gate.search_box(w, h, timestamp_ms))
        for _ in range(2):
            found = self._run(masked)
            if found is not None and self.gate.accepts(found[0], w, h, timestamp_ms):
                return found
        return None

    def set_subject(self, image_pose: np.ndarray, width: int, height: int, timestamp_ms: int) -> None:
        """Start following the person at ``image_pose`` (used when resuming a track)."""
        if not np.isnan(image_pose[list(TORSO), :2]).any():
            self.gate.update(image_pose, width, height, timestamp_ms)

    def close(self) -> None:
        if self._pose is not None:
            self._pose.close()
        self._pose = None


def uncrop(image_pose: np.ndarray, box, width: int, height: int) -> np.ndarray:
    """Map normalised landmarks of a crop back to normalised full-frame coordinates."""
    x0, y0, x1, y1 = box
    cw, ch = x1 - x0, y1 - y0
    out = image_pose.copy()
    out[:, 0] = (image_pose[:, 0] * cw + x0) / width
    out[:, 1] = (image_pose[:, 1] * ch + y0) / height
    out[:, 2] = image_pose[:, 2] * cw / width  # z shares x's scale
    return out


def create(settings: dict) -> MediaPipePose:
    return MediaPipePose(settings)
