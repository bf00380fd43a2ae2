"""Image checks of world-landmark claims: joints inside the frame, 3-D angles the image backs.

MediaPipe's world landmarks are a monocular 3-D guess; their depth (the camera's z) is the
weakest part. When the image landmarks are at hand (a ``PoseTrack``), a joint angle is only
claimed when the picture supports it.

API
---
``outside_frame(image) -> (frames, joints) bool``: image landmarks outside the picture (a joint
there is guessed, not seen; it counts as not visible).
``angle_doubts(world, image, size, specs) -> (frames, M) bool``: True where a 3-point angle
measurement (elbow, knee, hip, shoulder) is not backed by the image:

* *depth-borne*: one of its two segments points more than ``DEPTH_MAX`` (sine of the angle
  out of the image plane) along the camera axis, so the angle rests on the guessed depth;
* *disagreeing*: the world skeleton's own projection onto the image plane gives an angle
  more than ``AGREE_MAX`` degrees away from the angle between the image landmarks (for a
  limb lying in the image plane the projection is the 3-D angle itself).

Without image landmarks (a bare world array) nothing is doubted: there is nothing to check.
"""
from __future__ import annotations

import numpy as np

from ..geometry import angle_at

DEPTH_MAX = 0.8          # sin(53 deg): segment mostly along the camera axis
AGREE_MAX = 25.0         # degrees between projected world angle and image angle
FRAME_MARGIN = 0.0       # normalised image coordinates outside [0 - m, 1 + m] are out


def outside_frame(image: np.ndarray) -> np.ndarray:
    xy = np.asarray(image, dtype=np.float64)[..., :2]
    with np.errstate(invalid="ignore"):
        out = (xy < -FRAME_MARGIN) | (xy > 1 + FRAME_MARGIN)
    return out.any(axis=-1)


def angle_doubts(world: np.ndarray, image, size, specs, joint_index) -> np.ndarray:
    w = np.asarray(world, dtype=np.float64)[..., :3]
    out = np.zeros((len(w), len(specs)), dtype=bool)
    if image is None:
        return out
    px = np.asarray(image, dtype=np.float64)[..., :2] * np.asarray(size, dtype=np.float64)
    for j, m in enumerate(specs):
        if m.type != "angle":
            continue
        a, b, c = (joint_index(n) for n in m.joints)
        with np.errstate(invalid="ignore", divide="ignore"):
            depth = np.maximum(_depth_share(w[:, a] - w[:, b]), _depth_share(w[:, c] - w[:, b]))
            proj = angle_at(w[:, a, :2], w[:, b, :2], w[:, c, :2])
            seen = angle_at(px[:, a], px[:, b], px[:, c])
            out[:, j] = (depth > DEPTH_MAX) | (np.abs(proj - seen) > AGREE_MAX)
    return out


def _depth_share(v: np.ndarray) -> np.ndarray:
    return np.abs(v[:, 2]) / np.linalg.norm(v, axis=-1)
