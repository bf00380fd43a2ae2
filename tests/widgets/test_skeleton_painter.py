"""The skeleton item's painter, rendered offscreen into a QImage: left and right limbs in
their side colours, joint discs filled with the visibility's opacity, joints below the
threshold (and their bones) not drawn, and the whole picture equal, pixel for pixel, to
drawing every bone and joint one by one in skeleton order (joint discs small on screen
are copied from sprites: equal to each disc drawn at the nearest quarter pixel)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QLineF, QPointF, QRectF
from PySide6.QtGui import QColor, QImage, QPainter, QTransform

from models.pose.skeleton import blazepose
from widgets.video.overlay import (ALPHA_LEVELS, JOINT_OUTLINE, SIDE_COLORS, SPRITE_MAX_RADIUS,
                                   SPRITE_PHASES, UNRELIABLE_COLOR, SkeletonItem)

SK = blazepose()
W, H = 640, 360
BACKGROUND = QColor(0, 0, 0)


def render(item: SkeletonItem, scale: float = 1.0, dx: float = 0.0, dy: float = 0.0,
           paint=None) -> QImage:
    img = QImage(int(W * scale) + 8, int(H * scale) + 8, QImage.Format.Format_RGB32)
    img.fill(BACKGROUND)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    p.translate(dx, dy)
    p.scale(scale, scale)
    (paint or item.paint)(p, None)
    p.end()
    return img


def pixels(img: QImage) -> np.ndarray:
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return a[:, :img.width() * 4].copy()


def rgb(img: QImage, x: int, y: int) -> tuple[int, int, int]:
    c = img.pixelColor(x, y)
    return c.red(), c.green(), c.blue()


def reference_paint(item: SkeletonItem, snap: bool = False):
    """Every bone, then every joint, drawn one call at a time in skeleton order: what the
    item's painter must look exactly like. ``snap``: each disc drawn in device pixels, its
    centre at the nearest 1/SPRITE_PHASES of a pixel (what copying sprites amounts to)."""
    def paint(painter: QPainter, _option) -> None:
        pose, shown = item.pose, item.shown_joints()
        painter.setClipRect(QRectF(0, 0, W, H))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        w = item._width()
        for side in SIDE_COLORS:      # one drawLines per side, bones in skeleton order
            lines = [QLineF(*pose[a, :2], *pose[b, :2]) for a, b in SK.bones
                     if SK.bone_side((a, b)) == side and shown[a] and shown[b]]
            if lines:
                painter.setPen(item._bone_pen("unreliable" if item.unreliable else side, w))
                painter.drawLines(lines)
        painter.setPen(JOINT_OUTLINE)
        r = w * 1.3
        t = painter.worldTransform()
        if snap:
            painter.setWorldTransform(QTransform())
            r *= t.m11()
        for j in np.flatnonzero(shown):
            vis = 1.0 if np.isnan(pose[j, 2]) else min(max(pose[j, 2], 0.0), 1.0)
            level = int(np.rint(vis * ALPHA_LEVELS))
            painter.setBrush(item._brush("unreliable" if item.unreliable else SK.side(j), level))
            at = QPointF(pose[j, 0], pose[j, 1])
            if snap:
                at = t.map(at)
                at = QPointF(*(np.round(np.array([at.x(), at.y()]) * SPRITE_PHASES)
                               / SPRITE_PHASES))
            painter.drawEllipse(at, r, r)
    return paint


def known_pose() -> np.ndarray:
    p = np.full((SK.n, 3), np.nan)
    for name, xyv in {"left_shoulder": (100, 100, 0.95), "left_elbow": (300, 100, 0.95),
                      "right_shoulder": (100, 250, 0.95), "right_elbow": (100, 340, 0.95),
                      "left_hip": (450, 100, 0.95), "left_knee": (600, 100, 0.3),
                      "nose": (500, 300, 0.5)}.items():
        p[SK.index(name)] = xyv
    return p


@pytest.fixture
def item(qtbot):
    it = SkeletonItem()
    it.set_pose(known_pose(), QRectF(0, 0, W, H))
    return it


def test_left_limb_right_limb_joint_and_hidden_joint_pixels(item):
    img = render(item)
    r, g, b = rgb(img, 200, 100)                 # left upper arm: orange
    assert r > 200 and 100 < g < 190 and b < 90, (r, g, b)
    r, g, b = rgb(img, 100, 300)                 # right upper arm: blue
    assert r < 90 and 110 < g < 190 and b > 200, (r, g, b)
    assert rgb(img, 200, 130) == (0, 0, 0)       # nothing beside the bone
    # the nose (no bone under it), exactly at the threshold: a disc in the centre colour
    # at the opacity of its visibility, over the black background
    alpha = int(70 + 185 * round(0.5 * ALPHA_LEVELS) / ALPHA_LEVELS) / 255
    want = [round(c * alpha) for c in SIDE_COLORS["centre"].getRgb()[:3]]
    got = rgb(img, 500, 300)
    assert all(abs(a - b) <= 3 for a, b in zip(got, want)), (got, want)
    assert rgb(img, 500, 310) == (0, 0, 0)       # and only there
    # the left knee (visibility 0.3) is below the 0.5 threshold: no disc, no bone to it
    assert rgb(img, 600, 100) == (0, 0, 0)
    assert rgb(img, 525, 100) == (0, 0, 0)
    item.set_threshold(0.2)                      # a lower threshold shows knee and thigh
    img = render(item)
    assert rgb(img, 600, 100) != (0, 0, 0) and rgb(img, 525, 100) != (0, 0, 0)


def test_unreliable_pose_is_grey(item):
    item.set_pose(known_pose(), QRectF(0, 0, W, H), "torso not visible")
    img = render(item)
    grey = [rgb(img, x, 100) for x in range(130, 271)]
    assert any(abs(r - g) < 8 and abs(g - b) < 8 and r > 100 for r, g, b in grey)
    assert not any(r > 200 and b < 90 for r, g, b in grey)      # no orange left
    assert UNRELIABLE_COLOR.red() == UNRELIABLE_COLOR.green()


def random_poses(n: int = 40):
    rng = np.random.default_rng(7)
    for case in range(n):
        pose = np.full((SK.n, 3), np.nan)
        cx, cy, s = rng.uniform(150, 490), rng.uniform(100, 260), rng.uniform(30, 150)
        pose[:, 0] = cx + rng.normal(0, 0.4, SK.n) * s
        pose[:, 1] = cy + rng.normal(0, 0.6, SK.n) * s
        pose[:11, :2] = np.c_[cx + rng.normal(0, 0.03 * s, 11), cy - s / 2 + rng.normal(0, 0.03 * s, 11)]
        pose[:, 2] = np.where(rng.random(SK.n) < 0.5, rng.uniform(0, 1, SK.n), 0.99)
        pose[rng.integers(0, SK.n, 2), 2] = np.nan          # visibility unknown: drawn
        pose[rng.integers(0, SK.n, 2), :2] = np.nan         # joint missing: not drawn
        it = SkeletonItem()
        it.set_pose(pose, QRectF(0, 0, W, H), "low visibility" if case % 8 == 0 else "")
        yield case, it


@pytest.mark.parametrize("scale", [0.3359, 1.0, 2.5])
def test_painter_equals_drawing_each_bone_and_joint_one_by_one(qtbot, scale):
    """Discs small on screen (every scale here) come from sprites: the picture equals each
    disc drawn at the nearest quarter pixel, within 3 of 255 per channel (premultiplied
    rounding of the sprite), and the exact drawing but for disc edges moved <= 1/8 px."""
    assert 2.5 * SkeletonItem()._width() * 1.3 <= SPRITE_MAX_RADIUS    # sprites at all three
    for case, it in random_poses():
        got = pixels(render(it, scale, 1.3, 2.1)).astype(int)
        snapped = pixels(render(it, scale, 1.3, 2.1, paint=reference_paint(it, snap=True)))
        exact = pixels(render(it, scale, 1.3, 2.1, paint=reference_paint(it)))
        assert (got != pixels(render(it, scale, 1.3, 2.1, paint=lambda p, o: None))).any()
        assert np.abs(got - snapped).max() <= 3, (case, int(np.abs(got - snapped).max()))
        off = np.abs(got - exact)
        assert off.mean() < 0.1 and (off > 16).mean() < 0.002, (case, off.mean())


def test_large_discs_are_drawn_exactly_one_by_one(qtbot):
    """Zoomed in beyond the sprites' size, each disc is drawn as it always was: exactly."""
    scale = 2.2 * SPRITE_MAX_RADIUS / (SkeletonItem()._width() * 1.3) / 2
    assert SkeletonItem()._width() * 1.3 * scale > SPRITE_MAX_RADIUS
    for case, it in random_poses(10):
        got = pixels(render(it, scale, 1.3, 2.1))
        want = pixels(render(it, scale, 1.3, 2.1, paint=reference_paint(it)))
        assert np.array_equal(got, want), (case, int((got != want).any(axis=1).sum()))
