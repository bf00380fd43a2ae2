"""World-vs-image consistency: frames whose 3-D (world) skeleton contradicts the image.

MediaPipe sometimes lifts a small or blurred person to an upside-down or left/right
mirrored world skeleton while the 2-D landmarks are right. Describing such a frame from
the world landmarks would state an upside-down torso or the wrong side, so it is flagged.

API
---
``inconsistent_frames(track_or_none) -> np.ndarray | None``: (frames,) bool, True where
the world pose clearly contradicts the image pose; None when the input carries no image
landmarks (a bare world array: nothing to check against). Two tests, each relative to
the torso length in its own space and only where the joints involved are visible:

* vertical: head above vs below the mid-hip point (image y down, world y down);
* horizontal: the person's left shoulder/hip to the right vs left of the right ones
  (image x and world x both point to the image's right).

A frame is flagged when a test gives opposite signs and both ratios exceed the margin
(``VERTICAL_MARGIN``, ``HORIZONTAL_MARGIN``), so side views and lying poses (ratios near
zero) are never flagged.
"""
from __future__ import annotations

import numpy as np

from .skeleton import blazepose

VERTICAL_MARGIN = 0.5      # head-to-hips height, in torso lengths
HORIZONTAL_MARGIN = 0.3    # left-to-right shoulder/hip offset, in torso lengths
MIN_VIS = 0.5
NOSE, L_SH, R_SH, L_HIP, R_HIP = 0, 11, 12, 23, 24


def _ratios(p: np.ndarray, scale) -> tuple[np.ndarray, np.ndarray]:
    """(head-above-hips, left-right offset) in torso lengths for (frames, joints, >=2) points."""
    xy = p[..., :2] * scale
    hips, shoulders = xy[:, [L_HIP, R_HIP]].mean(axis=1), xy[:, [L_SH, R_SH]].mean(axis=1)
    torso = np.linalg.norm(shoulders - hips, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        up = (hips[:, 1] - xy[:, NOSE, 1]) / torso
        side = (xy[:, [L_SH, L_HIP], 0].mean(axis=1) - xy[:, [R_SH, R_HIP], 0].mean(axis=1)) / torso
    return up, side


def _disagree(a: np.ndarray, b: np.ndarray, margin: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (np.sign(a) * np.sign(b) < 0) & (np.abs(a) > margin) & (np.abs(b) > margin)


def inconsistent_frames(track) -> np.ndarray | None:
    image = getattr(track, "image", None)
    world = getattr(track, "world", None)
    if image is None or world is None:
        return None
    img = np.asarray(image, dtype=np.float64)
    w = np.asarray(world, dtype=np.float64)
    n = blazepose().n
    if img.shape[1] != n or w.shape[1] != n:
        return None
    size = np.array([float(getattr(track, "width", 1) or 1), float(getattr(track, "height", 1) or 1)])
    iu, isd = _ratios(img, size)
    wu, wsd = _ratios(w, 1.0)
    vis = np.nan_to_num(w[..., 3], nan=0.0) if w.shape[-1] > 3 else np.ones(w.shape[:2])
    seen = lambda joints: vis[:, joints].min(axis=1) >= MIN_VIS  # noqa: E731
    bad = _disagree(iu, wu, VERTICAL_MARGIN) & seen([NOSE, L_SH, R_SH, L_HIP, R_HIP])
    bad |= _disagree(isd, wsd, HORIZONTAL_MARGIN) & seen([L_SH, R_SH, L_HIP, R_HIP])
    return bad
