"""Synthetic but anatomically plausible pose tracks for QA tests (MediaPipe world axes:
metres, y down, the person's left at +x, facing the camera)."""
from __future__ import annotations

import numpy as np

from models.pose.skeleton import blazepose
from models.pose.track import PoseTrack

STANDING = {
    "nose": (0, -0.62, -0.05), "left_shoulder": (0.18, -0.45, 0), "right_shoulder": (-0.18, -0.45, 0),
    "left_elbow": (0.22, -0.18, 0), "right_elbow": (-0.22, -0.18, 0),
    "left_wrist": (0.24, 0.08, 0), "right_wrist": (-0.24, 0.08, 0),
    "left_hip": (0.1, 0, 0), "right_hip": (-0.1, 0, 0), "left_knee": (0.11, 0.42, 0),
    "right_knee": (-0.11, 0.42, 0), "left_ankle": (0.12, 0.84, 0), "right_ankle": (-0.12, 0.84, 0),
    "left_heel": (0.12, 0.88, 0.04), "right_heel": (-0.12, 0.88, 0.04),
    "left_foot_index": (0.12, 0.9, -0.12), "right_foot_index": (-0.12, 0.9, -0.12),
}


def standing_frame() -> np.ndarray:
    sk = blazepose()
    out = np.zeros((sk.n, 4), dtype=np.float64)
    out[:, 3] = 0.95
    for name, xyz in STANDING.items():
        out[sk.index(name), :3] = xyz
    for name in sk.joints:  # eyes, ears, mouth, hand points: near the nose / wrists
        if name not in STANDING:
            src = "nose" if not any(k in name for k in ("pinky", "index", "thumb")) else \
                name.split("_")[0] + "_wrist"
            out[sk.index(name), :3] = STANDING[src]
    return out


def track_from(world: np.ndarray, fps: float = 25.0) -> PoseTrack:
    image = np.zeros_like(world, dtype=np.float32)
    image[..., :2] = 0.5 + world[..., :2] * 0.3
    image[..., 3] = world[..., 3]
    return PoseTrack(image, world.astype(np.float32), fps, 640, 480, "synthetic", "1")


def elbow_pumping(frames: int = 100, cycles: int = 3, fps: float = 25.0) -> PoseTrack:
    """Standing; the right forearm swings up and down ``cycles`` times (elbow 170 -> 40 deg)."""
    sk = blazepose()
    base = standing_frame()
    world = np.repeat(base[None], frames, axis=0)
    t = np.arange(frames) / frames
    ang = np.radians(105 + 65 * np.cos(2 * np.pi * cycles * t))  # interior elbow angle
    elbow = base[sk.index("right_elbow"), :3]
    length = 0.26
    # upper arm points up from the elbow; forearm rotates in the x-y plane
    world[:, sk.index("right_wrist"), 0] = elbow[0] - length * np.sin(ang) * 0.0
    world[:, sk.index("right_wrist"), 1] = elbow[1] + length * np.cos(np.pi - ang)
    world[:, sk.index("right_wrist"), 2] = elbow[2] - length * np.sin(np.pi - ang)
    return track_from(world, fps)


def raising_hand(frames: int = 50, fps: float = 25.0) -> PoseTrack:
    """Standing; the left wrist rises 0.5 m in a straight line."""
    sk = blazepose()
    world = np.repeat(standing_frame()[None], frames, axis=0)
    world[:, sk.index("left_wrist"), 1] -= np.linspace(0, 0.5, frames)
    return track_from(world, fps)


def elbow_track(angles, fps: float = 25.0) -> PoseTrack:
    """Standing; the right elbow's interior angle follows ``angles`` (degrees, one per frame)."""
    sk = blazepose()
    base = standing_frame()
    ang = np.radians(np.asarray(angles, dtype=np.float64))
    world = np.repeat(base[None], len(ang), axis=0)
    elbow = base[sk.index("right_elbow"), :3]
    # the forearm turns in the picture's plane, out to the person's right
    world[:, sk.index("right_wrist"), 0] = elbow[0] - 0.26 * np.sin(ang)
    world[:, sk.index("right_wrist"), 1] = elbow[1] - 0.26 * np.cos(ang)
    world[:, sk.index("right_wrist"), 2] = elbow[2]
    return track_from(world, fps)
