"""COCO keypoints browser: the images of a COCO keypoints JSON with every imported person
drawn by the same skeleton overlay item as the video view (File > Import COCO keypoints)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (QDialog, QDoubleSpinBox, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QSplitter, QVBoxLayout, QWidget)

from models.pose.coco import CocoDataset, load_coco, person_track

from .video.overlay import DEFAULT_THRESHOLD
from .video.view import VideoView


def persons_text(n: int) -> str:
    return f"{n} person" if n == 1 else f"{n} persons"


def image_poses(image) -> list:
    """(33, 3) pixel x, y, visibility arrays, one per imported person of ``image``."""
    return [person_track(image, p).pixels(0) for p in image.persons]


class CocoBrowser(QDialog):
    def __init__(self, dataset: CocoDataset, parent=None) -> None:
        super().__init__(parent)
        self.dataset = dataset
        name = dataset.source.name if dataset.source else "COCO keypoints"
        self.setWindowTitle(f"{name} — COCO keypoints")
        self.setModal(False)
        self.resize(1100, 700)
        self.images = QListWidget()
        for im in dataset.images:
            item = QListWidgetItem(f"{im.file_name}  ({persons_text(len(im.persons))})")
            item.setData(Qt.ItemDataRole.UserRole, im.id)
            self.images.addItem(item)
        self.view = VideoView()
        self.info = QLabel()
        self.images.currentRowChanged.connect(self.show_image)
        self._layout(name)
        if dataset.images:
            self.images.setCurrentRow(0)

    @classmethod
    def from_file(cls, path, parent=None) -> "CocoBrowser":
        """Raises PoseError (a StudioError) for a malformed file."""
        return cls(load_coco(path), parent)

    def _layout(self, name: str) -> None:
        threshold = QDoubleSpinBox()
        threshold.setRange(0.0, 1.0)
        threshold.setSingleStep(0.05)
        threshold.setValue(DEFAULT_THRESHOLD)
        threshold.setToolTip("Hide joints below this visibility (COCO v=1 is 0.5, v=2 is 1.0)")
        threshold.valueChanged.connect(self.view.set_threshold)
        bar = QHBoxLayout()
        bar.addWidget(QLabel(f"{len(self.dataset.images)} images, "
                             f"{len(self.dataset.persons)} persons"))
        bar.addStretch(1)
        bar.addWidget(QLabel("min. visibility"))
        bar.addWidget(threshold)
        right = QWidget()
        rlay = QVBoxLayout(right)
        rlay.setContentsMargins(0, 0, 0, 0)
        rlay.addLayout(bar)
        rlay.addWidget(self.view, 1)
        rlay.addWidget(self.info)
        split = QSplitter()
        split.addWidget(self.images)
        split.addWidget(right)
        split.setSizes([260, 840])
        lay = QVBoxLayout(self)
        lay.addWidget(split)

    def show_image(self, row: int) -> None:
        if row < 0 or row >= len(self.dataset.images):
            return
        im = self.dataset.images[row]
        picture = QImage(str(im.path)) if im.path is not None else QImage()
        message = ""
        if picture.isNull():
            picture = QImage(im.width, im.height, QImage.Format.Format_RGB32)
            picture.fill(Qt.GlobalColor.darkGray)
            message = f"image file not found: {im.file_name}"
        self.view.show_picture(picture, image_poses(im), message)
        self.info.setText(f"{im.file_name}: {im.width}x{im.height}, {persons_text(len(im.persons))}")
