"""Body frame: world landmarks -> a body-normalised pose, vectorised over whole tracks.

API
---
``body_frame(world, min_visibility=0.0) -> (points, yaw)``
    ``world``: (frames, joints, 3|4) or one frame (joints, 3|4), MediaPipe world landmarks
    in metres (origin between the hips, **y pointing down**, z away from the camera),
    optional 4th channel = visibility. Returns ``points`` of the same shape in the body
    frame and ``yaw`` (frames,) in degrees:

    * x = the person's left, y = up, z = the person's forward (right-handed);
    * origin at the mid-hip point;
    * rotated about the vertical so the right-hip -> left-hip line lies along +x.

    ``yaw`` is the removed rotation: 0 = facing the camera, positive = turned to the
    person's left (counter-clockwise seen from above), +-180 = back to the camera.
    Missing joints (NaN) stay NaN; a frame without both hips is all NaN with NaN yaw.
    The visibility channel is copied unchanged; with ``min_visibility`` > 0 the hips must
    reach it for the frame to be normalised.

``to_camera_axes(world)``: only the axis flip (y up, z towards the camera), no rotation.
``rotate_about_vertical(points, degrees)``: rotate body-frame or flipped points about +y.
"""
from __future__ import annotations

import numpy as np

L_HIP, R_HIP = 23, 24


def to_camera_axes(world: np.ndarray) -> np.ndarray:
    """MediaPipe world axes (y down, z away) -> y up, z towards the camera (float64 copy)."""
    out = np.array(world, dtype=np.float64, copy=True)
    out[..., 1] *= -1.0
    out[..., 2] *= -1.0
    return out


def rotate_about_vertical(points: np.ndarray, degrees) -> np.ndarray:
    """Rotate (frames, joints, >=3) y-up points about +y by ``degrees`` (scalar or per frame).

    Positive angles turn the body to its left (x -> -z, z -> +x)."""
    p = np.array(points, dtype=np.float64, copy=True)
    a = np.radians(np.asarray(degrees, dtype=np.float64))
    if p.ndim == 3:
        a = np.broadcast_to(a, (p.shape[0],))[:, None]
    c, s = np.cos(a), np.sin(a)
    x, z = p[..., 0].copy(), p[..., 2].copy()
    p[..., 0] = c * x + s * z
    p[..., 2] = -s * x + c * z
    return p


def body_frame(world: np.ndarray, min_visibility: float = 0.0):
    """Body-normalised points and the removed yaw (see module docstring)."""
    w = np.asarray(world, dtype=np.float64)
    single = w.ndim == 2
    if single:
        w = w[None]
    p = to_camera_axes(w)
    hips_ok = ~np.isnan(p[:, [L_HIP, R_HIP], :3]).any(axis=(1, 2))
    if p.shape[-1] > 3 and min_visibility > 0:
        hips_ok &= np.nan_to_num(p[:, [L_HIP, R_HIP], 3]).min(axis=1) >= min_visibility
    centre = 0.5 * (p[:, L_HIP, :3] + p[:, R_HIP, :3])
    p[..., :3] -= centre[:, None, :]
    hip = p[:, L_HIP, :3] - p[:, R_HIP, :3]
    yaw = np.degrees(np.arctan2(-hip[:, 2], hip[:, 0]))
    p = rotate_about_vertical(p, -np.nan_to_num(yaw))
    p[~hips_ok, :, :3] = np.nan
    yaw = np.where(hips_ok, yaw, np.nan)
    if single:
        return p[0], yaw[0]
    return p, yaw


def mirror(world: np.ndarray, mirror_index: np.ndarray) -> np.ndarray:
    """Left/right mirror image of MediaPipe world points: x negated, sides swapped."""
    out = np.array(world, dtype=np.float64, copy=True)[..., mirror_index, :]
    out[..., 0] *= -1.0
    return out
