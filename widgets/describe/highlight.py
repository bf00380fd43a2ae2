"""Joint highlight rings drawn over the main video's skeleton.

``HighlightItem``: a QGraphicsItem that rings a set of joints of a (33, 3) pixel pose.
``attach_highlight(view, ctx)``: adds one item to a ``VideoView``'s scene and keeps it in
step with the describe controller's ``highlightJoints`` and the player's frames (the ring
follows the joints as the video plays; an empty selection clears it).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

from app.controllers.describe import describe_controller

RING = QColor(255, 235, 60)


class HighlightItem(QGraphicsItem):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.joints: tuple = ()
        self.pose: Optional[np.ndarray] = None
        self._bounds = QRectF(0, 0, 1, 1)
        self.setZValue(3)
        self.setVisible(False)   # nothing to ring: the scene need not paint it per frame

    def set_state(self, pose: Optional[np.ndarray], joints, bounds: QRectF) -> None:
        self.prepareGeometryChange()
        self._bounds = QRectF(bounds)
        self.pose = None if pose is None else np.asarray(pose, dtype=np.float64)
        self.joints = tuple(joints)
        self.setVisible(bool(self.joints))
        self.update()

    def ringed(self) -> list[int]:
        """Joints actually drawn (known position, visibility >= 0.5)."""
        if self.pose is None:
            return []
        p = self.pose
        return [j for j in self.joints
                if not np.isnan(p[j, :2]).any() and np.nan_to_num(p[j, 2], nan=1.0) >= 0.5]

    def boundingRect(self) -> QRectF:
        return self._bounds.adjusted(-40, -40, 40, 40)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        ringed = self.ringed()
        if not ringed:
            return
        r = max(8.0, max(self._bounds.width(), self._bounds.height()) / 90.0)
        painter.setClipRect(self._bounds)   # never outside the image (nothing left behind)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(RING, r / 3, Qt.PenStyle.SolidLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for j in ringed:
            painter.drawEllipse(QPointF(self.pose[j, 0], self.pose[j, 1]), r, r)


def attach_highlight(view, ctx) -> HighlightItem:
    item = getattr(view, "_describe_highlight", None)
    if item is not None:
        return item
    item = HighlightItem()
    view.scene().addItem(item)
    view._describe_highlight = item
    ctrl, player = describe_controller(ctx), ctx.player
    state = {"joints": (), "listening": False}

    def refresh(*_args) -> None:
        if not state["joints"] and not item.joints:
            return  # nothing ringed, nothing to clear
        bounds = view.frame_item.boundingRect()
        item.set_state(player.pose(), state["joints"], bounds)

    def on_highlight(joints) -> None:
        state["joints"] = tuple(joints)
        refresh()
        # frames are followed only while a ring is shown: no slot call per played frame
        # otherwise (hundreds a second when decoding is fast)
        listen = bool(state["joints"])
        if listen != state["listening"]:
            if listen:
                player.frameChanged.connect(refresh)
            else:
                player.frameChanged.disconnect(refresh)
            state["listening"] = listen

    ctrl.highlightJoints.connect(on_highlight)
    player.clipChanged.connect(lambda _p: on_highlight(()))
    return item
