"""Vectorised pose geometry on whole tracks: (frames, joints, >=3) arrays, NaN = missing."""
from __future__ import annotations

import numpy as np

from .pose.skeleton import Skeleton, blazepose


def angle_at(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle ABC in degrees for arrays of points (..., 3); NaN where any point is NaN."""
    u = a - b
    v = c - b
    nu = np.linalg.norm(u, axis=-1)
    nv = np.linalg.norm(v, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.einsum("...i,...i->...", u, v) / (nu * nv)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def joint_angles(points: np.ndarray, skeleton: Skeleton | None = None,
                 min_visibility: float = 0.0) -> dict[str, np.ndarray]:
    """Named joint angles (degrees) for every frame of ``points`` (frames, joints, 3|4).

    With a 4th (visibility) channel, an angle is NaN on frames where any of its three
    joints is below ``min_visibility``.
    """
    sk = skeleton or blazepose()
    pts = np.asarray(points, dtype=np.float64)
    xyz = pts[..., :3]
    out = {}
    for name, (ja, jb, jc) in sk.angles.items():
        ia, ib, ic = sk.index(ja), sk.index(jb), sk.index(jc)
        ang = angle_at(xyz[:, ia], xyz[:, ib], xyz[:, ic])
        if pts.shape[-1] > 3 and min_visibility > 0:
            vis = np.minimum(np.minimum(pts[:, ia, 3], pts[:, ib, 3]), pts[:, ic, 3])
            ang = np.where(vis >= min_visibility, ang, np.nan)
        out[name] = ang
    return out


ANGLE_ORDER = ("left_elbow", "right_elbow", "left_shoulder", "right_shoulder",
               "left_hip", "right_hip", "left_knee", "right_knee")
