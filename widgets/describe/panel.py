"""Describe panel: the description and the fact list of the displayed frame.

Observes the player (``frameChanged``, ``trackChanged``, ``playingChanged``) and the
describe controller (``trackFactsReady``; its facts follow the app's visibility threshold).
A paused, stepped or seeked player is described at once, frame for frame. While playing,
the panel is brought up to date every ``PLAYING_INTERVAL_MS`` (``widgets.rate.FrameRate``:
a reader cannot follow a new text per video frame, and the GUI thread's time goes to the
video): each update describes the frame on screen at that moment, and pausing describes
the frame it stops on. Rows are updated in place, unchanged text is not set again and the columns keep
their widths while the values change. "Copy" puts the text on the clipboard, "Copy JSON"
the facts. Clicking a fact asks the controller to highlight its joints, which the
ring item on the main video view (``widgets.describe.highlight``) draws. With every person
of the clip attached it describes the person followed (the player's track), naming them by
their place in the picture ("the person on the left") or, where that is ambiguous, by the
number on their badge ("person 1"); when another person is on the frame too, a separate
box below says what can be told about the two of them (``describe_pair``, with the nearest
other person).
"""
from __future__ import annotations

import json

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QPlainTextEdit, QPushButton,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from app.controllers.describe import describe_controller

from ..rate import FrameRate
from ..steady import set_steady_text
from .highlight import attach_highlight

COLUMNS = ("fact", "value", "bin", "vis.")
PLAYING_INTERVAL_MS = 250   # while playing: at most this often (4 updates per second)


def fact_row(f) -> list[str]:
    value = "" if f.kind in ("posture", "unknown") else f"{f.value:.2f} {f.unit}".strip()
    return [f.phrase, value, f.bin, f"{f.visibility:.2f}"]


class DescribePanel(QWidget):
    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.ctrl = describe_controller(ctx)
        self.facts: list = []
        self._text = ""                  # what the text box holds
        self.header = QLabel("No frame")
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumHeight(140)
        # with two people or more on the frame: the person followed and the nearest other
        self.pair_header = QLabel()
        self.pair_header.setObjectName("pairHeader")
        self.pair_header.setStyleSheet("font-weight: bold;")
        self.pair_text = QPlainTextEdit()
        self.pair_text.setObjectName("pairText")
        self.pair_text.setReadOnly(True)
        self.pair_text.setMaximumHeight(80)
        self.pair_text.setToolTip("Facts between two people (hands, facing, height): said only "
                                  "where the poses tell; otherwise 'cannot tell' and why")
        self._pair = None                # (other person, text) shown, None: hidden
        self.pair_header.hide()
        self.pair_text.hide()
        self.tree = QTreeWidget()
        self.tree.setMinimumHeight(84)        # room for ~4 facts even in a crowded dock area
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()      # the phrase takes what the value, bin and vis. leave
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):  # widths fitted when the rows change, then only grown
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self._rows: list = []            # the rows shown, to update only what changed
        self._quantities: list = []      # each row's fact quantity (also its item's data)
        self.tree.itemSelectionChanged.connect(self._on_select)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.header, 0, Qt.AlignmentFlag.AlignLeft)   # its width only grows
        lay.addWidget(self.text)
        lay.addWidget(self.pair_header)
        lay.addWidget(self.pair_text)
        lay.addLayout(self._buttons())
        lay.addWidget(self.tree, 1)
        # every frame when paused; while playing, the frame on screen every interval
        self.rate = FrameRate(ctx.player, self._on_frame, PLAYING_INTERVAL_MS, parent=self)
        ctx.player.trackChanged.connect(self.refresh)
        ctx.player.openFailed.connect(self.refresh)
        self.ctrl.trackFactsReady.connect(self.refresh)
        QTimer.singleShot(0, self._attach)

    def _buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the description to the clipboard")
        self.copy_button.clicked.connect(self.copy_text)
        self.copy_json_button = QPushButton("Copy JSON")
        self.copy_json_button.setToolTip("Copy the facts as JSON")
        self.copy_json_button.clicked.connect(self.copy_json)
        clear = QPushButton("Clear highlight")
        clear.clicked.connect(lambda: (self.tree.clearSelection(), self.ctrl.highlight(())))
        for b in (self.copy_button, self.copy_json_button, clear):
            row.addWidget(b)
        row.addStretch(1)
        return row

    def _attach(self) -> None:
        video = getattr(self.window(), "video", None)
        if video is not None and hasattr(video, "view"):
            attach_highlight(video.view, self.ctx)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._attach()
        self.refresh()

    @property
    def interval_ms(self) -> int:
        """Least time between two updates while playing."""
        return self.rate.interval_ms

    @interval_ms.setter
    def interval_ms(self, value: int) -> None:
        self.rate.interval_ms = value

    def _on_frame(self, _frame: int) -> None:
        self.refresh()

    def refresh(self, *_args) -> None:
        """Describe the frame on screen now."""
        if not self.isVisible():  # a hidden tab costs nothing; showEvent refreshes it
            return
        player = self.ctx.player
        frame = player.current_frame
        if frame < 0:
            self.header.setText("No frame")
            self._show([], "")
            self._show_pair(None)
            return
        head = f"Frame {frame} · {player.time_of(frame):.2f} s"
        # The person followed is named by their place in the picture, or by the number on
        # their badge where the place is ambiguous ("person 1"): the header and the text agree.
        subject = self.ctrl.subject()
        if player.people:
            phrase = self.ctx.poses.subject_phrase()
            head += f" · person {player.person}" + (f" ({phrase})" if phrase else "")
        set_steady_text(self.header, head)
        if player.track is None:
            self._show([], "No pose track yet: extract poses for this clip.")
            self._show_pair(None)
            return
        facts = self.ctrl.facts(frame)
        text = self.ctrl.text(facts, subject) if facts else \
            "Poses for this frame are not extracted yet."
        self._show(facts, text)
        self._show_pair(self.ctrl.pair_text(frame) if facts else None)

    def _show_pair(self, pair) -> None:
        """The interaction text with the nearest other person, or nothing (hidden)."""
        if pair == self._pair:
            return
        self._pair = pair
        if pair is None:
            self.pair_header.hide()
            self.pair_text.hide()
            return
        other, text = pair
        self.pair_header.setText(f"With person {other} (the nearest other person):")
        self.pair_text.setPlainText(text)
        self.pair_header.show()
        self.pair_text.show()

    def _show(self, facts, text: str) -> None:
        self.facts = facts
        if text != self._text:
            self._text = text
            self.text.setPlainText(text)
        rows = [fact_row(f) for f in facts]
        if rows == self._rows:
            return
        quantities = [f.quantity for f in facts]
        tree = self.tree
        tree.blockSignals(True)
        if quantities != self._quantities:
            self._refill(rows, quantities)
        else:                            # same facts, new values: change the cells only
            wider = set()
            for i, (row, old) in enumerate(zip(rows, self._rows)):
                item = tree.topLevelItem(i)
                for col, (new, was) in enumerate(zip(row, old)):
                    if new != was:
                        item.setText(col, new)
                        if col and len(new) > len(was):
                            wider.add(col)
            header = tree.header()
            for col in wider:                    # a longer value: the column only grows
                if tree.sizeHintForColumn(col) > header.sectionSize(col):
                    tree.resizeColumnToContents(col)
        tree.blockSignals(False)
        self._rows = rows

    def _refill(self, rows: list, quantities: list) -> None:
        """Other facts: the rows there are take the new texts (none is rebuilt), rows are
        added or dropped to match, the fact that was selected stays selected, and the
        columns are fitted to the new rows."""
        tree = self.tree
        keep = self._selected_quantity()
        role = Qt.ItemDataRole.UserRole
        old = self._rows
        have = tree.topLevelItemCount()
        for i in range(min(have, len(rows))):
            item, row = tree.topLevelItem(i), rows[i]
            was = old[i] if i < len(old) else None
            for col, text in enumerate(row):
                if was is None or was[col] != text:
                    item.setText(col, text)
            item.setData(0, role, quantities[i])
        if len(rows) > have:
            items = []
            for row, q in zip(rows[have:], quantities[have:]):
                item = QTreeWidgetItem(row)
                item.setData(0, role, q)
                items.append(item)
            tree.addTopLevelItems(items)
        for i in range(have - 1, len(rows) - 1, -1):
            tree.takeTopLevelItem(i)
        tree.selectionModel().clear()            # no selection, no current row (as new rows)
        if keep is not None and keep in quantities:
            tree.topLevelItem(quantities.index(keep)).setSelected(True)
        self._quantities = list(quantities)
        for col in range(1, len(COLUMNS)):       # other facts: fit the columns to them
            tree.resizeColumnToContents(col)

    def _selected_quantity(self):
        items = self.tree.selectedItems()
        return items[0].data(0, Qt.ItemDataRole.UserRole) if items else None

    def _on_select(self) -> None:
        rows = [self.tree.indexOfTopLevelItem(i) for i in self.tree.selectedItems()]
        joints = [j for r in rows for j in self.facts[r].joints]
        self.ctrl.highlight(dict.fromkeys(joints))

    def copy_text(self) -> None:
        QGuiApplication.clipboard().setText(self.text.toPlainText())
        self.ctx.message("Description copied", 2000)

    def copy_json(self) -> None:
        QGuiApplication.clipboard().setText(json.dumps([f.to_dict() for f in self.facts], indent=1))
        self.ctx.message("Facts copied as JSON", 2000)
