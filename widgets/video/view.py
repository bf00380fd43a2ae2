"""VideoView: a QGraphicsView showing one frame image with its skeleton overlay(s).

``show_frame(image, poses, message)`` replaces image, overlay and status text in one call,
so the pose drawn always belongs to the image shown. Wheel zooms around the cursor, drag
pans, ``fit()`` (or double-click) fits the image to the window again. The image may be a
scaled-down copy of the frame (``source`` gives the full frame's size): the scene stays in
full-frame pixels, so overlays and zoom never depend on the copy's size, and
``display_size()`` says how large a copy the view needs while playing.

With every person of a clip, ``show_frame(..., people=[person numbers], followed=N)``
draws each pose in its person's colours with a numbered badge above the head (the person
followed at full width, the others thinner); a click (press and release without a drag)
on a person's skeleton or inside the box around their joints emits ``personClicked``.
"""
from __future__ import annotations

import math
import sys
from typing import Optional, Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen, QTransform
from PySide6.QtWidgets import (QGraphicsItem, QGraphicsRectItem, QGraphicsScene,
                               QGraphicsSimpleTextItem, QGraphicsView)

from .overlay import DEFAULT_THRESHOLD, PersonLabel, SkeletonItem

ZOOM_STEP = 1.15
CLICK_SLOP_PX = 5        # a press and release closer than this (screen px) is a click
HIT_PX = 14              # a click this close (screen px) to a skeleton picks its person
BOX_PAD = 0.08           # ... or inside the box around the joints grown by this share
_IDENTITY = QTransform()


def to_qimage(rgb: np.ndarray) -> QImage:
    """Wrap an RGB uint8 array, or an (h, w, 4) one in B, G, R, X byte order (Qt's 32-bit
    RGB on little-endian machines: about 3x cheaper to paint scaled than RGB). No copy when
    it can be avoided: keep the array alive while the image lives."""
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    if rgb.ndim == 3 and rgb.shape[2] == 4:
        if sys.byteorder == "little":
            return QImage(rgb.data, w, h, rgb.strides[0], QImage.Format.Format_RGB32)
        rgb = np.ascontiguousarray(rgb[:, :, 2::-1])   # big-endian: fall back to RGB
        return QImage(rgb.data, w, h, rgb.strides[0], QImage.Format.Format_RGB888).copy()
    return QImage(rgb.data, w, h, rgb.strides[0], QImage.Format.Format_RGB888)


def outside(rect: QRectF, inner: QRectF) -> list[QRectF]:
    """Up to four rectangles covering ``rect`` minus ``inner``."""
    cut = rect.intersected(inner)
    if cut.isEmpty():
        return [QRectF(rect)]
    parts = [QRectF(rect.left(), rect.top(), rect.width(), cut.top() - rect.top()),
             QRectF(rect.left(), cut.bottom(), rect.width(), rect.bottom() - cut.bottom()),
             QRectF(rect.left(), cut.top(), cut.left() - rect.left(), cut.height()),
             QRectF(cut.right(), cut.top(), rect.right() - cut.right(), cut.height())]
    return [r for r in parts if r.width() > 0 and r.height() > 0]


class FrameItem(QGraphicsRectItem):
    """The frame image, painted straight from the decoded array (no per-frame pixmap
    conversion: one 1080p copy less per displayed frame). It covers the full frame's size
    (``size``) even when the image is a smaller copy, which is then stretched over it.
    Its area is the rectangle item's own (no outline): the scene asks for it several times
    per frame, and Qt answers that without calling into Python."""

    def __init__(self) -> None:
        super().__init__()
        self.setPen(QPen(Qt.PenStyle.NoPen))
        self._image = QImage()
        self._size = QSizeF()
        self._keep = None  # the numpy array the QImage points into
        self._mode = Qt.TransformationMode.SmoothTransformation
        self._blit_key: Optional[tuple] = None   # the painter's transform the next holds for
        self._blit_at: Optional[QPointF] = None  # where a pixel-for-pixel copy goes (or None)

    def set_image(self, image: QImage, keep=None, size: Optional[QSizeF] = None) -> None:
        size = QSizeF(image.size()) if size is None else QSizeF(size)
        self._set(image, keep, size)

    def _set(self, image: QImage, keep, size: QSizeF) -> None:
        """``set_image`` with ``size`` a QSizeF that is not changed afterwards (kept)."""
        if size != self._size:
            self.setRect(QRectF(0, 0, size.width(), size.height()))
            self._blit_key = None
        elif image.width() != self._image.width() or image.height() != self._image.height():
            self._blit_key = None
        self._image, self._keep, self._size = image, keep, size
        self.update()

    def image(self) -> QImage:
        return self._image

    def transformationMode(self):
        return self._mode

    def setTransformationMode(self, mode) -> None:
        self._mode = mode
        self.update()

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if not self._image.isNull() and not self._blit(painter):
            smooth = self._mode == Qt.TransformationMode.SmoothTransformation
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
            painter.drawImage(self.boundingRect(), self._image)

    def _blit(self, painter: QPainter) -> bool:
        """Draw the image pixel for pixel when it lands at its own size on the device
        (a playing frame scaled down to the view's size): a plain copy, about four times
        cheaper than Qt's scaled drawing of the same pixels. False when it would not.
        Where it goes is worked out once per view transform (not per frame)."""
        t = painter.worldTransform()
        ratio = painter.device().devicePixelRatioF()
        if self._blit_key is None or t != self._blit_key[0] or ratio != self._blit_key[1]:
            self._blit_key, self._blit_at = (t, ratio), self._blit_point(t, ratio)
        if self._blit_at is None:
            return False
        painter.setWorldTransform(_IDENTITY)
        painter.drawImage(self._blit_at, self._image)
        painter.setWorldTransform(t)
        return True

    def _blit_point(self, t: QTransform, ratio: float) -> Optional[QPointF]:
        kind = QTransform.TransformationType
        if t.type() not in (kind.TxNone, kind.TxTranslate, kind.TxScale) or ratio != 1.0:
            return None
        target = t.mapRect(self.boundingRect())
        img = self._image
        if abs(target.width() - img.width()) > 1 or abs(target.height() - img.height()) > 1:
            return None
        return QPointF(round(target.x()), round(target.y()))


class VideoView(QGraphicsView):
    zoomChanged = Signal(float)
    personClicked = Signal(int)   # a click on a person's skeleton (their person number)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        scene = QGraphicsScene(self)
        # a handful of items, repainted every frame: a spatial index only adds bookkeeping
        scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setScene(scene)
        self.frame_item = FrameItem()
        self.scene().addItem(self.frame_item)
        self.skeletons: list[SkeletonItem] = []
        self.labels: list[PersonLabel] = []     # one per skeleton item, shown with people
        self.threshold = DEFAULT_THRESHOLD
        self.overlay_visible = True
        self._press = None       # where the left button went down (a click, not a drag?)
        self.message_item = self._make_message()
        self._message, self._message_at = "", QRectF()   # what message_item shows, where
        self._image: Optional[np.ndarray] = None
        self._source: Optional[tuple[int, int]] = None   # (w, h) of the full frame shown
        self._source_size: Optional[QSizeF] = None         # the same as a QSizeF
        self._auto_fit = True
        # the strips drawBackground fills for an exposed rectangle (kept: while playing it
        # is the same rectangle frame after frame)
        self._bg_rect, self._bg_frame, self._bg_parts = QRectF(), QRectF(), []
        self.setRenderHints(QPainter.RenderHint.Antialiasing |
                            QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(QBrush(QColor(24, 25, 28)))
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setMinimumSize(320, 180)
        # drawBackground fills all the opaque frame does not cover: the viewport's own
        # background fill (a full-viewport fill before every repaint) would only be painted over
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        """Fill only what the opaque frame does not cover: no full-frame overdraw per
        displayed frame (the band 1 px inside the frame edge is filled too, so a
        fractional edge never shows stale pixels). A picture with transparency gets the
        background under all of it."""
        frame = self.frame_item.boundingRect()
        image = self.frame_item.image()
        if (image.isNull() or image.hasAlphaChannel() or frame.width() < 4
                or frame.height() < 4):
            painter.fillRect(rect, self.backgroundBrush())
            return
        if rect != self._bg_rect or frame != self._bg_frame:   # the same strips each frame
            inner = frame.adjusted(1, 1, -1, -1)
            self._bg_rect, self._bg_frame = QRectF(rect), frame
            self._bg_parts = [] if inner.contains(rect) else outside(rect, inner)
        if self._bg_parts:
            brush = self.backgroundBrush()
            for part in self._bg_parts:
                painter.fillRect(part, brush)

    def _make_message(self) -> QGraphicsSimpleTextItem:
        item = QGraphicsSimpleTextItem()
        font = QFont()
        font.setPointSize(13)
        font.setBold(True)
        item.setFont(font)
        item.setBrush(QBrush(QColor(255, 210, 80)))
        item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        item.setZValue(5)
        self.scene().addItem(item)
        return item

    # -- content -----------------------------------------------------------------------------
    @property
    def skeleton(self) -> SkeletonItem:
        """The first (main subject) overlay item."""
        return self._skeleton_items(1)[0]

    def _skeleton_items(self, n: int) -> list[SkeletonItem]:
        while len(self.skeletons) < n:
            item = SkeletonItem()
            item.set_threshold(self.threshold)
            self.scene().addItem(item)
            self.skeletons.append(item)
            label = PersonLabel()
            label.setVisible(False)
            self.scene().addItem(label)
            self.labels.append(label)
        return self.skeletons

    def show_frame(self, image: Optional[np.ndarray], poses: Sequence[Optional[np.ndarray]] = (),
                   message: str = "", unreliable: Sequence[str] = (),
                   source: Optional[tuple[int, int]] = None, people: Sequence[int] = (),
                   followed: Optional[int] = None) -> None:
        """Show ``image`` with ``poses`` ((joints, 3) pixel arrays, in full-frame pixels)
        and ``message``; ``unreliable[i]``: why pose i is not reliable ("" or missing: it
        is); ``source``: (w, h) of the full frame when ``image`` is a scaled-down copy;
        ``people[i]``: the person number of pose i (given: each in their colours with a
        numbered badge, ``followed`` emphasised; empty: one track's side colours)."""
        if image is not None:
            self._set_image(image, source)
        bounds = self.frame_item.boundingRect()
        items = self._skeleton_items(max(1, len(poses)))
        for i, item in enumerate(items):
            person = people[i] if i < len(people) else None
            item.set_person(person, person is None or person == followed)
            item.set_pose(poses[i] if i < len(poses) else None, bounds,
                          unreliable[i] if i < len(unreliable) else "")
            item.setVisible(self.overlay_visible)
            self._place_label(self.labels[i], item, person, followed)
        if message != self._message or bounds != self._message_at:
            self._message, self._message_at = message, bounds
            self.message_item.setText(message)
            self.message_item.setPos(bounds.topLeft())

    def _place_label(self, label: PersonLabel, item: SkeletonItem, person: Optional[int],
                     followed: Optional[int]) -> None:
        head = item.head_point() if person is not None and item.pose is not None else None
        if head is None:
            label.setVisible(False)
            return
        label.set_person(person, person == followed)
        label.setPos(head)
        label.setVisible(self.overlay_visible)

    def person_at(self, pos: QPointF) -> Optional[int]:
        """The person drawn at ``pos`` (scene = full-frame pixels): the one whose skeleton
        passes nearest within ``HIT_PX`` screen pixels, else the one whose (slightly
        grown) joint box holds it, the smallest such box first. None: nobody there."""
        if not self.overlay_visible:
            return None
        near = HIT_PX / max(abs(self.zoom), 1e-6)
        best, best_d = None, float("inf")
        boxes = []
        for item in self.skeletons:
            if item.person is None or item.pose is None or not item.isVisible():
                continue
            d = item.distance_to(pos)
            if d <= near and d < best_d:
                best, best_d = item.person, d
            box = item.shown_box()
            if box is not None:
                grow = BOX_PAD * max(box.width(), box.height())
                box = box.adjusted(-grow, -grow, grow, grow)
                if box.contains(pos):
                    boxes.append((box.width() * box.height(), item.person))
        if best is not None:
            return best
        return min(boxes)[1] if boxes else None

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        press, self._press = self._press, None
        super().mouseReleaseEvent(event)
        if press is None or event.button() != Qt.MouseButton.LeftButton:
            return
        moved = event.position() - press
        if abs(moved.x()) + abs(moved.y()) > CLICK_SLOP_PX:
            return                                    # a drag that panned the view
        person = self.person_at(self.mapToScene(event.position().toPoint()))
        if person is not None:
            self.personClicked.emit(person)

    def _set_image(self, image: np.ndarray, source: Optional[tuple[int, int]] = None) -> None:
        size = (image.shape[1], image.shape[0]) if source is None else tuple(source)
        first = self._image is None or self._source != size
        if first or self._source_size is None:
            self._source_size = QSizeF(*size)     # one per frame size, not one per frame
        self._image, self._source = image, size
        image = np.ascontiguousarray(image)
        self.frame_item._set(to_qimage(image), image, self._source_size)
        if first:
            self.scene().setSceneRect(self.frame_item.boundingRect())
            if self._auto_fit:
                self.fit()

    def show_picture(self, picture: QImage, poses: Sequence[np.ndarray] = (),
                     message: str = "") -> None:
        """Show a still ``QImage`` (e.g. an imported COCO photo) with its poses."""
        self._image = self._source = None
        self.frame_item.set_image(picture)
        self.scene().setSceneRect(self.frame_item.boundingRect())
        self.fit()
        self.show_frame(None, poses, message)

    def clear(self, message: str = "") -> None:
        self._image = self._source = None
        self.frame_item.set_image(QImage())
        self.show_frame(None, (), message)

    # -- view options ----------------------------------------------------------------------------
    def set_threshold(self, value: float) -> None:
        self.threshold = float(value)
        for item in self.skeletons:
            item.set_threshold(value)

    def set_smooth(self, smooth: bool) -> None:
        """Bilinear image scaling (paused) or nearest pixel (playing: several times
        cheaper for a downscaled 1080p frame)."""
        mode = (Qt.TransformationMode.SmoothTransformation if smooth
                else Qt.TransformationMode.FastTransformation)
        if self.frame_item.transformationMode() != mode:
            self.frame_item.setTransformationMode(mode)
            self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)

    def set_overlay_visible(self, on: bool) -> None:
        self.overlay_visible = bool(on)
        for item in self.skeletons:
            item.setVisible(self.overlay_visible)
        for label, item in zip(self.labels, self.skeletons):
            label.setVisible(self.overlay_visible and item.person is not None
                             and item.head_point() is not None)

    # -- zoom and pan ----------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def display_size(self) -> Optional[tuple[int, int]]:
        """(w, h) in device pixels of the whole frame as the view shows it now, or None
        when that is not smaller than the frame (zoomed in: full resolution is needed)."""
        rect = self.frame_item.boundingRect()
        scale = abs(self.zoom) * self.devicePixelRatioF()
        if rect.width() <= 0 or scale >= 1.0:
            return None
        return (min(int(rect.width()), math.ceil(rect.width() * scale)),
                min(int(rect.height()), math.ceil(rect.height() * scale)))

    def fit(self) -> None:
        self._auto_fit = True
        rect = self.frame_item.boundingRect()
        if rect.width() > 0:
            self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
            self.zoomChanged.emit(self.zoom)

    def set_zoom(self, factor: float) -> None:
        self._auto_fit = False
        self.resetTransform()
        self.scale(factor, factor)
        self.zoomChanged.emit(self.zoom)

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self._auto_fit = False
            f = ZOOM_STEP ** steps
            self.scale(f, f)
            self.zoomChanged.emit(self.zoom)
        event.accept()

    def mouseDoubleClickEvent(self, event) -> None:
        self.fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._auto_fit:
            self.fit()

    def render_scene(self, size=None) -> QImage:
        """The scene (frame + overlay) rendered at image resolution (or ``size``)."""
        rect = self.frame_item.boundingRect()
        w, h = (int(rect.width()), int(rect.height())) if size is None else size
        out = QImage(w, h, QImage.Format.Format_RGB32)
        out.fill(QColor(0, 0, 0))
        painter = QPainter(out)
        self.scene().render(painter, QRectF(0, 0, w, h), rect)
        painter.end()
        return out
