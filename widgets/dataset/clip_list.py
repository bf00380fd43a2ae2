"""Clip list dock: one row per clip of the open folder (or the single open video) with a
thumbnail, duration, resolution, fps and pose status, filled in as background jobs finish.
Clicking a row opens that clip in the player."""
from __future__ import annotations

import os

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPixmap
from PySide6.QtWidgets import QHeaderView, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from ..video.transport import format_time
from ..video.view import to_qimage

COLUMNS = ("Clip", "Duration", "Poses")
PATH_ROLE = Qt.ItemDataRole.UserRole
STATUS_COLORS = {"done": QColor(120, 200, 120), "none": QColor(150, 150, 155)}


class ClipListPanel(QWidget):
    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.header = QLabel("No folder open")
        self.header.setContentsMargins(6, 4, 6, 4)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setRootIsDecorated(False)
        self.tree.setIconSize(QSize(64, 36))
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemActivated.connect(self._open_item)
        self.tree.itemClicked.connect(self._open_item)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.header)
        lay.addWidget(self.tree)
        self._items: dict[str, QTreeWidgetItem] = {}
        ctx.dataset.clipsChanged.connect(self._on_clips)
        ctx.dataset.clipInfo.connect(self._on_info)
        ctx.player.clipChanged.connect(self._select)
        self.setMinimumWidth(340)

    def _on_clips(self, paths: list) -> None:
        self.tree.clear()
        self._items = {}
        root = self.ctx.dataset.root
        self.header.setText(f"{root}  ·  {len(paths)} clips" if root else f"{len(paths)} clip")
        self.header.setToolTip(root or "")
        for path in paths:
            item = QTreeWidgetItem([os.path.basename(path), "…", "…"])
            item.setData(0, PATH_ROLE, path)
            item.setToolTip(0, path)
            self.tree.addTopLevelItem(item)
            self._items[path] = item

    def _on_info(self, path: str, props: dict) -> None:
        item = self._items.get(path)
        if item is None:
            return
        if "error" in props:
            item.setText(1, "error")
            item.setToolTip(0, props["error"])
            item.setForeground(1, QBrush(QColor(240, 110, 100)))
            return
        info = props["info"]
        item.setText(1, format_time(info.duration))
        vfr = " · VFR" if props.get("vfr") else ""   # variable frame rate: fps is an average
        item.setText(0, f"{props['name']}\n{info.width}x{info.height} · {info.fps:.2f} fps{vfr}")
        share = props.get("reliable")
        item.setText(2, props["poses"] if share is None
                     else f"{props['poses']} · {100 * share:.0f}% reliable")
        item.setToolTip(2, "" if share is None else
                        f"{100 * share:.0f}% of the frames have a reliable pose; the others are "
                        "not described (no person, body hidden or cut, too small, ghost skeleton)")
        color = STATUS_COLORS.get(props["poses"], QColor(230, 190, 90))
        if share is not None and share < 0.5:
            color = QColor(230, 190, 90)          # mostly unreliable: same warning tone as partial
        item.setForeground(2, QBrush(color))
        thumb = props["thumbnail"]
        item.setIcon(0, QIcon(QPixmap.fromImage(to_qimage(thumb))))

    def _select(self, path: str) -> None:
        item = self._items.get(path)
        if item is not None:
            self.tree.setCurrentItem(item)

    def _open_item(self, item: QTreeWidgetItem, _col: int = 0) -> None:
        path = item.data(0, PATH_ROLE)
        if path and path != self.ctx.player.path:
            self.ctx.player.open(path)

    def row_texts(self) -> list[list[str]]:
        """The visible text of every row (for tests and debugging)."""
        return [[self.tree.topLevelItem(r).text(c) for c in range(len(COLUMNS))]
                for r in range(self.tree.topLevelItemCount())]
