"""How damaged a decoded picture looks: a cheap per-frame score of decoding artefacts.

When a video decoder meets corrupt data it conceals the lost macroblocks, typically by
stretching the last good row of pixels downwards; the next frames predict from that
picture and carry the smears along. Such a frame shows vertical streaks: 8x8 blocks whose
pixels change across the columns but hardly at all down the rows. A pose estimator still
places a steady, plausible skeleton on it, so no pose-level cue can see the damage.

``damage_score(frame)`` is the share of 8x8 blocks of the (downscaled) grey frame that are
such streaks: mean absolute step between rows below ``STREAK_RATIO`` times the mean step
between columns, with the column steps above ``MIN_STEP`` grey levels (flat blocks do not
count). Clean footage stays well below the threshold in ``resources/reliability.json``
(``damage_max``), where natural vertical structure (poles, stripes, hair) also scores a
little. It costs about 0.5 ms (small frames) to 2-4 ms (1080p) per frame (the frame is first scaled to at
most ``MAX_SIDE`` pixels).
"""
from __future__ import annotations

import numpy as np

BLOCK = 8            # block size (pixels of the downscaled frame)
MAX_SIDE = 384       # longest side the frame is scaled down to before scoring
STREAK_RATIO = 0.25  # row step below this share of the column step: a vertical streak
MIN_STEP = 2.0       # mean column step (grey levels) a block needs to count at all


def _grey(frame: np.ndarray) -> np.ndarray:
    """``frame`` (H, W, 3 RGB or BGR, or H, W grey) as float32 grey, at most MAX_SIDE."""
    import cv2  # noqa: PLC0415 (only extraction scores frames; it has decoded with cv2)

    a = np.asarray(frame)
    if a.ndim == 3:     # grey first: scaling one channel is cheaper than three
        # the channel weights of RGB and BGR differ a little; the score does not care
        a = cv2.cvtColor(np.ascontiguousarray(a[..., :3]), cv2.COLOR_RGB2GRAY)
    h, w = a.shape[:2]
    scale = MAX_SIDE / max(h, w)
    if scale < 1:
        a = cv2.resize(a, (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_AREA)
    return a.astype(np.float32)


def damage_score(frame: np.ndarray) -> float:
    """Share (0..1) of the frame's 8x8 blocks that are vertical streaks (see the module
    docstring); 0 for a frame smaller than one block."""
    g = _grey(frame)
    h, w = g.shape[0] // BLOCK * BLOCK, g.shape[1] // BLOCK * BLOCK
    if h == 0 or w == 0:
        return 0.0
    b = g[:h, :w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK)
    rows = np.abs(np.diff(b, axis=1)).mean(axis=(1, 3))
    cols = np.abs(np.diff(b, axis=3)).mean(axis=(1, 3))
    return float(((rows < STREAK_RATIO * cols) & (cols > MIN_STEP)).mean())
