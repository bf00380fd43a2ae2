"""Skeleton overlay: one QGraphicsItem that draws a pose in image pixel coordinates.

Bones are coloured by body side (left orange, right blue, centre grey), joints are filled
with an opacity that follows their visibility, and joints below the visibility threshold
(and the bones touching them) are not drawn. Hovering a joint shows its name, pixel
coordinates and visibility as a tooltip. A pose judged unreliable
(``models.pose.reliability``) is drawn as a dashed grey skeleton with faint joints, and
its tooltip starts with the reason. The item knows nothing about frames: whoever
shows a frame hands it that frame's pose in the same call.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsRectItem

from models.pose.skeleton import Skeleton, blazepose

SIDE_COLORS = {"left": QColor(255, 145, 30), "right": QColor(45, 150, 255),
               "centre": QColor(205, 205, 205)}
DEFAULT_THRESHOLD = 0.5
ALPHA_LEVELS = 16
JOINT_OUTLINE = QPen(QColor(20, 20, 20, 220), 1.0)
JOINT_OUTLINE.setCosmetic(True)
UNRELIABLE_COLOR = QColor(150, 150, 150)


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
        self._pose: Optional[np.ndarray] = None   # (joints, 3): x px, y px, visibility
        self.unreliable = ""      # why the pose is not reliable ("" = reliable)
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
        return self._line_width

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
                self._pens[key] = QPen(SIDE_COLORS[side], width, Qt.PenStyle.SolidLine,
                                       Qt.PenCapStyle.FlatCap)
        return self._pens[key]

    def _brush(self, side: str, level: int) -> QBrush:
        key = (side, level)
        if key not in self._brushes:
            color = QColor(UNRELIABLE_COLOR if side == "unreliable" else SIDE_COLORS[side])
            color.setAlpha(int(70 + 185 * level / ALPHA_LEVELS) if side != "unreliable" else 90)
            self._brushes[key] = QBrush(color)
        return self._brushes[key]

    def _paint_joints(self, painter: QPainter, rows: list, shown: list) -> None:
        """Joint discs in joint order; opacity follows visibility (quantised to
        ALPHA_LEVELS steps, unknown visibility counting as 1)."""
        r = self._width() * 1.3
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
