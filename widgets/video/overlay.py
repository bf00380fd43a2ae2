"""Skeleton overlay: one QGraphicsItem that draws a pose in image pixel coordinates.

Bones are coloured by body side (left orange, right blue, centre grey), joints are filled
with an opacity that follows their visibility, and joints below the visibility threshold
(and the bones touching them) are not drawn. Hovering a joint shows its name, pixel
coordinates and visibility as a tooltip. The item knows nothing about frames: whoever
shows a frame hands it that frame's pose in the same call.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

from models.pose.skeleton import Skeleton, blazepose

SIDE_COLORS = {"left": QColor(255, 145, 30), "right": QColor(45, 150, 255),
               "centre": QColor(205, 205, 205)}
DEFAULT_THRESHOLD = 0.5


def line_width(width: int, height: int) -> float:
    """Bone width in image pixels: readable at fit-to-window zoom for any resolution."""
    return max(2.0, max(width, height) / 320.0)


class SkeletonItem(QGraphicsItem):
    def __init__(self, skeleton: Optional[Skeleton] = None, parent=None) -> None:
        super().__init__(parent)
        self.skeleton = skeleton or blazepose()
        self._bones = np.array(self.skeleton.bones, dtype=int).reshape(-1, 2)
        self._bone_side = [self.skeleton.bone_side(tuple(b)) for b in self._bones]
        self._joint_side = [self.skeleton.side(j) for j in range(self.skeleton.n)]
        self._pose: Optional[np.ndarray] = None   # (joints, 3): x px, y px, visibility
        self._bounds = QRectF(0, 0, 1, 1)
        self.threshold = DEFAULT_THRESHOLD
        self.setAcceptHoverEvents(True)
        self.setZValue(1)

    # -- state ---------------------------------------------------------------------------
    def set_pose(self, pose: Optional[np.ndarray], bounds: Optional[QRectF] = None) -> None:
        if bounds is not None and bounds != self._bounds:
            self.prepareGeometryChange()
            self._bounds = QRectF(bounds)
        self._pose = None if pose is None else np.asarray(pose, dtype=np.float64)
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
        vis = np.nan_to_num(p[:, 2], nan=1.0)
        return ~np.isnan(p[:, 0]) & ~np.isnan(p[:, 1]) & (vis >= self.threshold)

    def _width(self) -> float:
        return line_width(int(self._bounds.width()), int(self._bounds.height()))

    # -- drawing -------------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        pad = self._width() * 3
        return self._bounds.adjusted(-pad, -pad, pad, pad)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if self._pose is None:
            return
        shown = self.shown_joints()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self._paint_bones(painter, shown)
        self._paint_joints(painter, shown)

    def _paint_bones(self, painter: QPainter, shown: np.ndarray) -> None:
        p, w = self._pose, self._width()
        ok = shown[self._bones[:, 0]] & shown[self._bones[:, 1]]
        for side, color in SIDE_COLORS.items():
            lines = [QLineF(p[a, 0], p[a, 1], p[b, 0], p[b, 1])
                     for (a, b), s, k in zip(self._bones, self._bone_side, ok) if k and s == side]
            if lines:
                pen = QPen(color, w, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
                painter.setPen(pen)
                painter.drawLines(lines)

    def _paint_joints(self, painter: QPainter, shown: np.ndarray) -> None:
        p, w = self._pose, self._width()
        painter.setPen(QPen(QColor(20, 20, 20, 220), max(1.0, w / 4)))
        for j in np.flatnonzero(shown):
            vis = 1.0 if np.isnan(p[j, 2]) else float(np.clip(p[j, 2], 0, 1))
            color = QColor(SIDE_COLORS[self._joint_side[j]])
            color.setAlpha(int(70 + 185 * vis))
            painter.setBrush(QBrush(color))
            painter.drawEllipse(QPointF(p[j, 0], p[j, 1]), w * 1.3, w * 1.3)

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
        return (f"{self.skeleton.joints[joint]}\nx {x:.1f} px, y {y:.1f} px\n"
                f"visibility {vis_text}")

    def hoverMoveEvent(self, event) -> None:
        j = self.joint_at(event.pos())
        self.setToolTip(self.tooltip_for(j) if j is not None else "")
        super().hoverMoveEvent(event)

    def hoverLeaveEvent(self, event) -> None:
        self.setToolTip("")
        super().hoverLeaveEvent(event)
