"""Both skeletons of a frame pair overlaid after aligning at the hips (body frame).

Frame A is drawn with dashed blue bones, frame B in white with its joints coloured by how
far they moved (green = still, yellow, red = ``COLOR_MAX`` m or more; legend at the bottom), and
an arrow from A to B for every main joint that moved at least ``ARROW_MIN`` m. Front
view (x = the person's left, seen from the front) or side view (z forward).
``arrow_joints()`` lists the joints that get an arrow; ``drawn_arrows`` the ones the
last paint really drew.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QLinearGradient, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QWidget

from models.body import body_frame
from models.pose.skeleton import blazepose

ARROW_MIN = 0.05          # metres: smaller displacements get no arrow
COLOR_MAX = 0.40          # metres: the top of the colour scale (the "clear" edge of the difference bins)
MAIN_JOINTS = (0, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
MIN_VIS = 0.5
A_COLOR = QColor(120, 170, 255, 210)     # frame A: dashed blue bones
B_COLOR = QColor(235, 235, 235)          # frame B: white bones, joints coloured by distance
LEGEND_H = 44


def motion_color(d: float) -> QColor:
    """Green (0) -> yellow (COLOR_MAX / 2) -> red (>= COLOR_MAX)."""
    t = float(np.clip(d / COLOR_MAX, 0.0, 1.0))
    if t < 0.5:
        return QColor(int(60 + 390 * t), 200, 70)
    return QColor(255, int(200 - 340 * (t - 0.5)), 50)


class AlignedSkeletonView(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.sk = blazepose()
        self.pa: Optional[np.ndarray] = None
        self.pb: Optional[np.ndarray] = None
        self.side_view = False
        self.highlight: tuple = ()
        self.drawn_arrows: list[int] = []
        self.placeholder = "Mark frames A and B"
        self.setMinimumSize(240, 240)

    def set_worlds(self, world_a, world_b, placeholder: str = "Mark frames A and B") -> None:
        """Both poses to overlay; with either missing, ``placeholder`` is shown instead."""
        self.placeholder = placeholder
        if world_a is None or world_b is None:
            self.pa = self.pb = None
        else:
            pts, _ = body_frame(np.stack([np.asarray(world_a), np.asarray(world_b)]))
            self.pa, self.pb = pts[0], pts[1]
        self.update()

    def set_side_view(self, on: bool) -> None:
        self.side_view = bool(on)
        self.update()

    def set_highlight(self, joints) -> None:
        self.highlight = tuple(joints)
        self.update()

    # -- geometry -------------------------------------------------------------------------------
    def _ok(self) -> np.ndarray:
        vis = np.minimum(np.nan_to_num(self.pa[:, 3]), np.nan_to_num(self.pb[:, 3])) \
            if self.pa.shape[1] > 3 else np.ones(len(self.pa))
        return ~np.isnan(self.pa[:, 0]) & ~np.isnan(self.pb[:, 0]) & (vis >= MIN_VIS)

    def moved(self) -> np.ndarray:
        """(33,) displacement in metres (NaN where either pose lacks the joint)."""
        d = np.linalg.norm(self.pb[:, :3] - self.pa[:, :3], axis=1)
        return np.where(self._ok(), d, np.nan)

    def arrow_joints(self) -> list[int]:
        if self.pa is None:
            return []
        d = self.moved()
        return [j for j in MAIN_JOINTS if np.isfinite(d[j]) and d[j] >= ARROW_MIN]

    def _mapper(self):
        axis = 2 if self.side_view else 0
        both = np.concatenate([self.pa, self.pb])[:, [axis, 1]]
        both = both[~np.isnan(both).any(axis=1)]
        lo, hi = both.min(axis=0), both.max(axis=0)
        span = max(float((hi - lo).max()), 0.5)
        w, h = self.width(), self.height() - LEGEND_H
        scale = 0.85 * min(w, h) / span
        cx, cy = (lo + hi) / 2
        return lambda p: QPointF(w / 2 + (p[axis] - cx) * scale, h / 2 + 4 - (p[1] - cy) * scale)

    # -- painting -------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.fillRect(self.rect(), QColor(24, 25, 28))
        self.drawn_arrows = []
        if self.pa is None or np.isnan(self.pa[:, 0]).all() or np.isnan(self.pb[:, 0]).all():
            painter.setPen(QColor(200, 200, 200))
            painter.drawText(self.rect(), int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap),
                             self.placeholder)
            return
        m, ok, d = self._mapper(), self._ok(), self.moved()
        self._bones(painter, self.pa, m, A_COLOR, Qt.PenStyle.DashLine)
        self._bones(painter, self.pb, m, B_COLOR)
        for j in self.arrow_joints():
            self._arrow(painter, m(self.pa[j]), m(self.pb[j]), motion_color(d[j]))
            self.drawn_arrows.append(j)
        self._joints(painter, m, ok, d)
        self._legend(painter)

    def _bones(self, painter, p, m, color, style=Qt.PenStyle.SolidLine) -> None:
        painter.setPen(QPen(color, 2, style))
        for a, b in self.sk.bones:
            if not (np.isnan(p[a, 0]) or np.isnan(p[b, 0])):
                painter.drawLine(QLineF(m(p[a]), m(p[b])))

    def _joints(self, painter, m, ok, d) -> None:
        for j in MAIN_JOINTS:
            if not ok[j]:
                continue
            painter.setPen(QPen(QColor(20, 20, 20), 1))
            painter.setBrush(QBrush(motion_color(d[j])))
            painter.drawEllipse(m(self.pb[j]), 5, 5)
            if j in self.highlight:
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.setPen(QPen(QColor(255, 235, 60), 2))
                painter.drawEllipse(m(self.pb[j]), 10, 10)

    def _arrow(self, painter, a: QPointF, b: QPointF, color: QColor) -> None:
        painter.setPen(QPen(color, 2.5))
        painter.drawLine(QLineF(a, b))
        v = np.array([b.x() - a.x(), b.y() - a.y()])
        n = float(np.linalg.norm(v))
        if n < 1e-6:
            return
        u, w = v / n, np.array([-v[1], v[0]]) / n
        tip = np.array([b.x(), b.y()])
        head = [tip, tip - 9 * u + 4.5 * w, tip - 9 * u - 4.5 * w]
        painter.setBrush(QBrush(color))
        painter.drawPolygon(QPolygonF([QPointF(*p) for p in head]))

    def _legend(self, painter) -> None:
        """Bottom strip: the colour scale of joint displacement and the A/B line styles."""
        x, w = 10, max(60, min(170, self.width() - 20))
        y = self.height() - LEGEND_H + 18
        grad = QLinearGradient(x, 0, x + w, 0)
        for t in (0.0, 0.5, 1.0):
            grad.setColorAt(t, motion_color(t * COLOR_MAX))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(grad))
        painter.drawRect(QRectF(x, y, w, 7))
        painter.setPen(QColor(220, 220, 220))
        painter.drawText(QPointF(x, y - 3), "joint moved: 0")
        painter.drawText(QRectF(x, y - 16, w, 14), int(Qt.AlignmentFlag.AlignRight),
                         f"≥{COLOR_MAX:.1f} m")
        y2 = y + 22
        painter.setPen(QPen(A_COLOR, 2, Qt.PenStyle.DashLine))
        painter.drawLine(QLineF(x, y2 - 4, x + 22, y2 - 4))
        painter.setPen(QColor(220, 220, 220))
        painter.drawText(QPointF(x + 27, y2), "A")
        painter.setPen(QPen(B_COLOR, 2))
        painter.drawLine(QLineF(x + 45, y2 - 4, x + 67, y2 - 4))
        painter.setPen(QColor(220, 220, 220))
        painter.drawText(QPointF(x + 72, y2), "B (arrows A → B)")
