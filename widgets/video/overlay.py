"""Skeleton overlay: one QGraphicsItem that draws a pose in image pixel coordinates.

Bones are coloured by body side (left orange, right blue, centre grey), joints are filled
with an opacity that follows their visibility, and joints below the visibility threshold
(and the bones touching them) are not drawn. Hovering a joint shows its name, pixel
coordinates and visibility as a tooltip. A pose judged unreliable
(``models.pose.reliability``) is drawn as a dashed grey skeleton with faint joints, and
its tooltip starts with the reason. The item knows nothing about frames: whoever
shows a frame hands it that frame's pose in the same call.

Every person of a clip: each person is drawn in their own hue (``person_colors``: a
palette of well separated hues, by person number), and the body sides stay apart inside
that hue: the person's LEFT limbs in a light tint, the RIGHT limbs in a deep shade, the
centre line (face, torso) in between. ``PersonLabel`` puts the person's number in a badge
of their colour above the head. The person followed is drawn at full width on top; the
others thinner and a little transparent.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import (QBrush, QColor, QFont, QFontMetricsF, QImage, QPainter, QPen,
                           QPixmap, QTransform)
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem

from models.pose.skeleton import Skeleton, blazepose

SIDE_COLORS = {"left": QColor(255, 145, 30), "right": QColor(45, 150, 255),
               "centre": QColor(205, 205, 205)}
DEFAULT_THRESHOLD = 0.5
ALPHA_LEVELS = 16
JOINT_OUTLINE = QPen(QColor(20, 20, 20, 220), 1.0)
JOINT_OUTLINE.setCosmetic(True)
UNRELIABLE_COLOR = QColor(150, 150, 150)
# person hues (degrees), far apart in order: person n gets PERSON_HUES[n % len]
PERSON_HUES = (32, 195, 120, 305, 0, 265, 55, 165)
SIDE_LIGHTNESS = {"left": 0.80, "centre": 0.58, "right": 0.38}   # left light, right deep
OTHER_WIDTH = 0.55     # bone width of a person not followed, as a share of the full width
OTHER_ALPHA = 190      # their opacity (0-255)
HEAD_JOINTS = range(11)  # BlazePose nose .. mouth: where the person's label goes
# Joint discs up to this radius on the device (px) are copied from pre-drawn sprites (one
# small pixmap per colour, size and quarter-pixel position) instead of being rasterised one
# ellipse at a time: Qt's fixed cost per antialiased shape is most of a small disc's cost.
SPRITE_MAX_RADIUS = 12.0
SPRITE_PHASES = 4         # sub-pixel positions per axis: a disc lands within 1/8 px
_SPRITES: dict = {}       # (rgba, outline rgba, device radius, phase x, phase y) -> QPixmap
_SPRITE_LIMIT = 4096      # entries kept before the cache starts again (zoom changes)
_IDENTITY = QTransform()


def joint_sprite(brush: QBrush, radius: float, qx: int, qy: int) -> tuple[QPixmap, int]:
    """The disc of ``radius`` device px filled with ``brush`` and the joint outline, its
    centre ``qx``/``qy`` quarters of a pixel right/below the pixel corner ``c`` px from the
    sprite's top-left: (sprite, c)."""
    c = int(math.ceil(radius)) + 2
    key = (brush.color().rgba(), JOINT_OUTLINE.color().rgba(), radius, qx, qy)
    sprite = _SPRITES.get(key)
    if sprite is None:
        if len(_SPRITES) >= _SPRITE_LIMIT:
            _SPRITES.clear()
        image = QImage(2 * c + 2, 2 * c + 2, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(0)
        p = QPainter(image)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(JOINT_OUTLINE)
        p.setBrush(brush)
        p.drawEllipse(QPointF(c + qx / SPRITE_PHASES, c + qy / SPRITE_PHASES), radius, radius)
        p.end()
        sprite = _SPRITES[key] = QPixmap.fromImage(image)
    return sprite, c


def person_color(person: int) -> QColor:
    """The colour of ``person`` (its swatch in the People panel, its label's badge)."""
    return QColor.fromHslF(PERSON_HUES[int(person) % len(PERSON_HUES)] / 360.0, 0.85, 0.55)


def person_colors(person: int) -> dict[str, QColor]:
    """{side: colour} of the bones of ``person``: the person's hue, a light tint on the
    left, a deep shade on the right, the middle in between."""
    hue = PERSON_HUES[int(person) % len(PERSON_HUES)] / 360.0
    return {side: QColor.fromHslF(hue, 0.9, light) for side, light in SIDE_LIGHTNESS.items()}


def line_width(width: int, height: int) -> float:
    """Bone width in image pixels: readable at fit-to-window zoom for any resolution."""
    return max(2.0, max(width, height) / 320.0)


class SkeletonItem(QGraphicsRectItem):
    """Its area (the image area with room for bones and discs at the edge) is the
    rectangle item's own, without an outline: the scene asks for it several times per
    frame, and Qt answers that without calling into Python."""

    def __init__(self, skeleton: Optional[Skeleton] = None, parent=None) -> None:
        super().__init__(parent)
        self.setPen(QPen(Qt.PenStyle.NoPen))
        self.skeleton = skeleton or blazepose()
        self._bones = np.array(self.skeleton.bones, dtype=int).reshape(-1, 2)
        bone_side = [self.skeleton.bone_side(tuple(b)) for b in self._bones]
        # per side: (bone index, joint a, joint b) in bone order, for the painter
        self._side_bone_list = {side: [(i, int(a), int(b)) for i, (a, b) in
                                       enumerate(self._bones.tolist()) if bone_side[i] == side]
                                for side in SIDE_COLORS}
        self._joint_side = [self.skeleton.side(j) for j in range(self.skeleton.n)]
        self._brushes: dict = {}  # (side, alpha level) -> QBrush, built on first use
        self._pens: dict = {}     # (side, width) -> QPen of the bones
        self._sprites: dict = {}  # ((side, level), phase x, phase y) -> (joint sprite, centre)
        self._sprite_radius = 0.0  # the device radius the sprites are drawn at
        self._pose: Optional[np.ndarray] = None   # (joints, 3): x px, y px, visibility
        self.unreliable = ""      # why the pose is not reliable ("" = reliable)
        self.person: Optional[int] = None   # the person drawn (None: the one track's)
        self._colors = SIDE_COLORS          # side -> colour of the bones and joints
        self._scale, self._alpha = 1.0, 255  # width share and opacity (others: thinner)
        self._bounds = QRectF(0, 0, 1, 1)
        self._line_width = None
        self._set_bounds(self._bounds)
        self.threshold = DEFAULT_THRESHOLD
        self.setAcceptHoverEvents(True)
        self.setZValue(1)

    # -- state ---------------------------------------------------------------------------
    def set_pose(self, pose: Optional[np.ndarray], bounds: Optional[QRectF] = None,
                 unreliable: str = "") -> None:
        """``unreliable``: the reason the pose is not to be trusted ("" when it is)."""
        if bounds is not None and bounds != self._bounds:
            self._set_bounds(bounds)
        self._pose = None if pose is None else np.asarray(pose, dtype=np.float64)
        self.unreliable = unreliable or ""
        self.update()

    @property
    def pose(self) -> Optional[np.ndarray]:
        return self._pose

    def set_person(self, person: Optional[int], followed: bool = True) -> None:
        """Draw the pose as ``person``'s (their colours; thinner and a little transparent
        unless ``followed``), or with the side colours of one track (None)."""
        colors = SIDE_COLORS if person is None else person_colors(person)
        scale, alpha = (1.0, 255) if followed or person is None else (OTHER_WIDTH, OTHER_ALPHA)
        if (person, scale, alpha) != (self.person, self._scale, self._alpha):
            self.person, self._colors, self._scale, self._alpha = person, colors, scale, alpha
            self._pens.clear()
            self._brushes.clear()
            self._sprites.clear()
            self.setZValue(2 if followed else 1)
            self.update()

    def shown_box(self) -> Optional[QRectF]:
        """The rectangle around the drawn joints (None when none is drawn)."""
        shown = self.shown_joints()
        if not shown.any():
            return None
        xy = self._pose[shown, :2]
        (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
        return QRectF(float(x0), float(y0), float(x1 - x0), float(y1 - y0))

    def head_point(self) -> Optional[QPointF]:
        """Above the head: the middle of the drawn face joints (else of every drawn joint),
        at the top of them. None when nothing is drawn."""
        shown = self.shown_joints()
        if not shown.any():
            return None
        head = np.zeros_like(shown)
        head[[j for j in HEAD_JOINTS if j < len(head)]] = True
        use = shown & head if (shown & head).any() else shown
        xy = self._pose[use, :2]
        return QPointF(float(xy[:, 0].mean()), float(xy[:, 1].min()))

    def distance_to(self, pos: QPointF) -> float:
        """Image pixels from ``pos`` to the nearest drawn joint or bone (inf: none drawn)."""
        shown = self.shown_joints()
        if not shown.any():
            return float("inf")
        q = np.array([pos.x(), pos.y()])
        best = float(np.hypot(*(self._pose[shown, :2] - q).T).min())
        ok = self._bones[shown[self._bones[:, 0]] & shown[self._bones[:, 1]]]
        if len(ok):
            a, b = self._pose[ok[:, 0], :2], self._pose[ok[:, 1], :2]
            ab = b - a
            t = np.clip(((q - a) * ab).sum(axis=1) / np.maximum((ab * ab).sum(axis=1), 1e-9),
                        0, 1)
            best = min(best, float(np.hypot(*(a + t[:, None] * ab - q).T).min()))
        return best

    def set_threshold(self, value: float) -> None:
        self.threshold = float(value)
        self.update()

    def shown_joints(self) -> np.ndarray:
        """(joints,) bool: drawn joints (present and at/above the threshold)."""
        if self._pose is None:
            return np.zeros(self.skeleton.n, dtype=bool)
        p = self._pose
        vis = np.where(np.isnan(p[:, 2]), 1.0, p[:, 2])
        return ~np.isnan(p[:, 0]) & ~np.isnan(p[:, 1]) & (vis >= self.threshold)

    def _set_bounds(self, bounds: QRectF) -> None:
        """The image area, with the bone width and the item's area that follow from it
        (worked out here once: the scene asks for the area several times per frame)."""
        self._bounds = QRectF(bounds)
        self._line_width = line_width(int(bounds.width()), int(bounds.height()))
        pad = self._line_width * 3
        self.setRect(self._bounds.adjusted(-pad, -pad, pad, pad))   # the item's area

    def _width(self) -> float:
        return self._line_width * self._scale

    # -- drawing -------------------------------------------------------------------------------
    def paint(self, painter: QPainter, option, widget=None) -> None:
        if self._pose is None:
            return
        # one pass in plain Python over the ~33 joints: cheaper per frame than a dozen
        # numpy calls on arrays this small; the same test as ``shown_joints``
        rows, thr = self._pose.tolist(), self.threshold
        shown = [x == x and y == y and (1.0 if v != v else v) >= thr for x, y, v in rows]
        # Only inside the image: a joint estimated beyond the frame edge would otherwise be
        # painted outside the item's area and stay on screen after the pose is gone.
        painter.setClipRect(self._bounds)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self._paint_bones(painter, rows, shown)
        self._paint_joints(painter, rows, shown)

    def _paint_bones(self, painter: QPainter, rows: list, shown: list) -> None:
        """One ``drawLines`` per side, its bones in skeleton order."""
        w = self._width()
        for side, side_bones in self._side_bone_list.items():
            lines = [QLineF(rows[a][0], rows[a][1], rows[b][0], rows[b][1])
                     for _i, a, b in side_bones if shown[a] and shown[b]]
            if lines:
                painter.setPen(self._bone_pen("unreliable" if self.unreliable else side, w))
                painter.drawLines(lines)

    def _bone_pen(self, side: str, width: float) -> QPen:
        """Flat caps: the joint discs (wider than a bone) cover every bone end, and
        round caps cost about three times as much to rasterise at 1080p."""
        key = (side, width)
        if key not in self._pens:
            if side == "unreliable":
                self._pens[key] = QPen(UNRELIABLE_COLOR, width, Qt.PenStyle.DashLine,
                                       Qt.PenCapStyle.FlatCap)
            else:
                color = QColor(self._colors[side])
                color.setAlpha(self._alpha)
                self._pens[key] = QPen(color, width, Qt.PenStyle.SolidLine,
                                       Qt.PenCapStyle.FlatCap)
        return self._pens[key]

    def _brush(self, side: str, level: int) -> QBrush:
        key = (side, level)
        if key not in self._brushes:
            color = QColor(UNRELIABLE_COLOR if side == "unreliable" else self._colors[side])
            alpha = int(70 + 185 * level / ALPHA_LEVELS) if side != "unreliable" else 90
            color.setAlpha(alpha * self._alpha // 255)
            self._brushes[key] = QBrush(color)
        return self._brushes[key]

    def _paint_joints(self, painter: QPainter, rows: list, shown: list) -> None:
        """Joint discs in joint order; opacity follows visibility (quantised to
        ALPHA_LEVELS steps, unknown visibility counting as 1)."""
        r = self._width() * 1.3
        t = painter.worldTransform()
        if (t.m12() == 0.0 and t.m21() == 0.0 and t.m11() == t.m22() > 0
                and r * t.m11() <= SPRITE_MAX_RADIUS
                and painter.device().devicePixelRatioF() == 1.0):
            self._paint_joint_sprites(painter, rows, shown, r * t.m11(), t)
            return
        painter.setPen(JOINT_OUTLINE)  # a 1 px cosmetic outline: a third of a wide stroke's cost
        brushes, sides, unreliable = self._brushes, self._joint_side, self.unreliable
        set_brush, draw, last = painter.setBrush, painter.drawEllipse, None
        for j, (x, y, v) in enumerate(rows):
            if not shown[j]:
                continue
            level = round((1.0 if v != v else min(max(v, 0.0), 1.0)) * ALPHA_LEVELS)
            key = ("unreliable" if unreliable else sides[j], level)
            brush = brushes.get(key)
            if brush is None:
                brush = self._brush(*key)
            if brush is not last:       # the painter keeps a brush until told otherwise
                set_brush(brush)
                last = brush
            draw(QPointF(x, y), r, r)

    def _paint_joint_sprites(self, painter: QPainter, rows: list, shown: list,
                             radius: float, t: QTransform) -> None:
        """The joint discs as ``_paint_joints`` draws them, each copied from its sprite at
        the nearest quarter pixel (device pixels: the view only scales and translates)."""
        radius = round(radius, 3)          # one set of sprites per zoom, not per rounding
        if radius != self._sprite_radius:
            self._sprites.clear()
            self._sprite_radius = radius
        s, dx, dy, n = t.m11(), t.dx(), t.dy(), SPRITE_PHASES
        brushes, sides, unreliable = self._brushes, self._joint_side, self.unreliable
        sprites, floor = self._sprites, math.floor
        painter.setWorldTransform(_IDENTITY)   # the item's clip stays where it was set
        draw = painter.drawPixmap
        for j, (x, y, v) in enumerate(rows):
            if not shown[j]:
                continue
            level = round((1.0 if v != v else min(max(v, 0.0), 1.0)) * ALPHA_LEVELS)
            key = ("unreliable" if unreliable else sides[j], level)
            brush = brushes.get(key)
            if brush is None:
                brush = self._brush(*key)
            px, py = s * x + dx, s * y + dy
            ix, iy = floor(px), floor(py)
            qx, qy = round((px - ix) * n), round((py - iy) * n)
            got = sprites.get((key, qx, qy))
            if got is None:
                got = sprites[(key, qx, qy)] = joint_sprite(brush, radius, qx, qy)
            sprite, c = got
            draw(ix - c, iy - c, sprite)
        painter.setWorldTransform(t)

    # -- hover ------------------------------------------------------------------------------------
    def joint_at(self, pos: QPointF, radius: Optional[float] = None) -> Optional[int]:
        """The drawn joint nearest to ``pos`` (item coordinates) within ``radius`` px."""
        shown = self.shown_joints()
        if not shown.any():
            return None
        radius = radius if radius is not None else max(8.0, self._width() * 3)
        d = np.hypot(self._pose[:, 0] - pos.x(), self._pose[:, 1] - pos.y())
        d[~shown] = np.inf
        j = int(np.argmin(d))
        return j if d[j] <= radius else None

    def tooltip_for(self, joint: int) -> str:
        x, y, vis = self._pose[joint]
        vis_text = "n/a" if np.isnan(vis) else f"{vis:.2f}"
        head = f"Pose not reliable: {self.unreliable}\n" if self.unreliable else ""
        if self.person is not None:
            head = f"Person {self.person}\n{head}"
        return (f"{head}{self.skeleton.joints[joint]}\nx {x:.1f} px, y {y:.1f} px\n"
                f"visibility {vis_text}")

    def _near_bone(self, pos: QPointF) -> bool:
        """``pos`` lies within a few pixels of a drawn bone."""
        shown = self.shown_joints()
        ok = self._bones[shown[self._bones[:, 0]] & shown[self._bones[:, 1]]]
        if not len(ok):
            return False
        a, b = self._pose[ok[:, 0], :2], self._pose[ok[:, 1], :2]
        q = np.array([pos.x(), pos.y()])
        ab = b - a
        t = np.clip(((q - a) * ab).sum(axis=1) / np.maximum((ab * ab).sum(axis=1), 1e-9), 0, 1)
        d = np.hypot(*(a + t[:, None] * ab - q).T)
        return bool(d.min() <= max(6.0, self._width() * 2))

    def hoverMoveEvent(self, event) -> None:
        j = self.joint_at(event.pos())
        tip = self.tooltip_for(j) if j is not None else ""
        if not tip and self.unreliable and self._near_bone(event.pos()):
            tip = f"Pose not reliable: {self.unreliable}"
        self.setToolTip(tip)
        super().hoverMoveEvent(event)

    def hoverLeaveEvent(self, event) -> None:
        self.setToolTip("")
        super().hoverLeaveEvent(event)


class PersonLabel(QGraphicsItem):
    """A person's number in a rounded badge of their colour, at a fixed size on screen,
    its bottom centre at the position set (above the person's head). The person
    followed gets a white rim and bold text."""

    PAD = 3.0

    def __init__(self) -> None:
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setZValue(4)
        self.person: Optional[int] = None
        self.followed = False
        self.text = ""
        self._font = QFont()
        self._font.setPointSize(11)
        self._font.setBold(True)
        self._rect = QRectF()

    def set_person(self, person: int, followed: bool) -> None:
        if (person, followed) == (self.person, self.followed):
            return
        self.prepareGeometryChange()
        self.person, self.followed, self.text = int(person), bool(followed), str(int(person))
        m = QFontMetricsF(self._font)
        w = max(m.horizontalAdvance(self.text) + 2 * self.PAD + 4, m.height() + 2 * self.PAD)
        h = m.height() + 2 * self.PAD
        self._rect = QRectF(-w / 2, -h - 4, w, h)    # above the point it is placed at
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt's name)
        return self._rect.adjusted(-2, -2, 2, 2)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if self.person is None:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        fill = person_color(self.person)
        rim = QPen(QColor(255, 255, 255) if self.followed else QColor(20, 20, 20, 200),
                   2.0 if self.followed else 1.0)
        painter.setPen(rim)
        painter.setBrush(QBrush(fill))
        painter.drawRoundedRect(self._rect, 4, 4)
        painter.setFont(self._font)
        painter.setPen(QColor(10, 10, 10))
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self.text)
