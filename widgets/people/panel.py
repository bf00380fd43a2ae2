"""People panel: every person of the open clip, one row each, to choose whom to follow.

A row shows the person's colour (as the video overlay draws them), their number ("0" is
the main person: the one seen most), the frames they are seen on ("212/240 frames") and a
thin bar of the clip with the frames they are seen on filled in. Clicking a row (or
moving through the list with the keys) makes that person the one followed
(``ctx.poses.set_person``): the overlay emphasises them, and the angle plot and the
descriptions read their poses. Clicking a person on the video does the same; the list
follows. In single-person mode the panel says how to find everyone (Poses > Every Person).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton,
                               QVBoxLayout, QWidget)

from ..video.overlay import person_color

ROW_HEIGHT = 50
BAR_HEIGHT = 5


def coverage_text(seen: int, frames: int) -> str:
    return f"{seen}/{frames} frames"


class CoverageBar(QWidget):
    """The clip as a thin strip: frames where the person is seen in their colour."""

    def __init__(self, seen: np.ndarray, color: QColor, parent=None) -> None:
        super().__init__(parent)
        self.seen = np.asarray(seen, dtype=bool)
        self.color = QColor(color)
        self.setFixedHeight(BAR_HEIGHT)
        self.setMinimumWidth(60)

    def runs(self) -> list[tuple[int, int]]:
        """[start, end) frame runs where the person is seen."""
        s = np.concatenate([[False], self.seen, [False]]).astype(np.int8)
        edges = np.flatnonzero(np.diff(s))
        return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt's name)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(60, 62, 66))
        n = max(len(self.seen), 1)
        w = self.width()
        for a, b in self.runs():
            x0, x1 = int(a * w / n), max(int(b * w / n), int(a * w / n) + 1)
            p.fillRect(x0, 0, x1 - x0, self.height(), self.color)
        p.end()


class PersonRow(QWidget):
    """Swatch, name, frames seen and the coverage bar of one person."""

    def __init__(self, person: int, track, parent=None) -> None:
        super().__init__(parent)
        self.person = person
        color = person_color(person)
        seen = np.asarray(track.has_pose, dtype=bool)
        self.seen_frames, self.frames = int(seen.sum()), len(track)
        self.swatch = QLabel()
        self.swatch.setFixedSize(18, 18)
        self.swatch.setStyleSheet(f"background: {color.name()}; border: 1px solid #111; "
                                  "border-radius: 3px;")
        self.name = QLabel(f"<b>{person}</b>&nbsp; Person {person}"
                           + (" (main)" if person == 0 else ""))
        self.coverage = QLabel(coverage_text(self.seen_frames, self.frames))
        self.bar = CoverageBar(seen, color)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.swatch)
        top.addWidget(self.name, 1)
        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.addWidget(self.bar, 1, Qt.AlignmentFlag.AlignVCenter)
        bottom.addWidget(self.coverage)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 3, 6, 3)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addLayout(bottom)


class PeoplePanel(QWidget):
    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.player = ctx.player
        self.rows: dict[int, PersonRow] = {}
        self._people_shown: Optional[dict] = None   # the player's people the rows show
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.every_button = QPushButton("Find every person")
        self.every_button.setToolTip("Poses > Every Person: pose everyone in the clip")
        self.every_button.clicked.connect(lambda: ctx.poses.set_every_person(True))
        self.list = QListWidget()
        self.list.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self.list.setMinimumHeight(2 * ROW_HEIGHT + 6)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)   # rows follow the width
        self.setMinimumWidth(190)
        self.list.currentRowChanged.connect(self._on_row)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.hint)
        lay.addWidget(self.every_button, 0, Qt.AlignmentFlag.AlignLeft)
        lay.addWidget(self.list, 1)
        self.player.trackChanged.connect(self.refresh)
        ctx.poses.person_changed.connect(self._show_person)
        ctx.poses.modeChanged.connect(lambda _on: self.refresh())
        ctx.poses.busyChanged.connect(lambda _b: self._show_hint())
        self.refresh()

    # -- content --------------------------------------------------------------------------------
    def persons(self) -> list[int]:
        """The person numbers listed, in list order."""
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def refresh(self) -> None:
        people = self.player.people
        if people is not self._people_shown:
            self._people_shown = people
            self._fill(people)
        self._show_person(self.player.person)
        self._show_hint()

    def _fill(self, people: dict) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        self.rows = {}
        for person, track in sorted(people.items()):
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, person)
            row = PersonRow(person, track)
            item.setSizeHint(QSize(row.sizeHint().width(), ROW_HEIGHT))
            item.setToolTip(f"Person {person}: seen on {row.seen_frames} of {row.frames} "
                            "frames. Click to follow them (angles, descriptions).")
            self.list.addItem(item)
            self.list.setItemWidget(item, row)
            self.rows[person] = row
        self.list.blockSignals(False)

    def _show_hint(self) -> None:
        poses, player = self.ctx.poses, self.player
        every = poses.every_person
        self.every_button.setVisible(not every and player.path is not None)
        if player.path is None:
            text = "Open a clip to see the people in it."
        elif not every:
            text = ("Single-person poses: one person is followed. Choose Poses > Every "
                    "Person to find everyone in the clip.")
        elif poses.busy and not player.people:
            text = "Finding every person in the clip…"
        elif not player.people:
            text = "Nobody found in this clip yet." if player.track is None else ""
        else:
            n = len(player.people)
            text = (f"{n} {'person' if n == 1 else 'people'} in this clip: click one, here "
                    "or on the video, to follow them.")
        self.hint.setText(text)
        self.hint.setVisible(bool(text))

    def _show_person(self, person: int) -> None:
        persons = self.persons()
        row = persons.index(person) if person in persons else -1
        if self.list.currentRow() != row:
            self.list.blockSignals(True)
            self.list.setCurrentRow(row)
            self.list.blockSignals(False)

    # -- intents ----------------------------------------------------------------------------------
    def choose(self, person: int) -> bool:
        """Follow ``person`` (as a click on their row does)."""
        return self.ctx.poses.set_person(person)

    def _on_row(self, row: int) -> None:
        if 0 <= row < self.list.count():
            self.choose(self.list.item(row).data(Qt.ItemDataRole.UserRole))
