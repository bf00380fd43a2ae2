"""Every person in the window, on the real two-person clip with its people extracted by the
real multi-person landmarker into a real project file (once per module): the People
panel lists both with their frames; both are drawn, each in their own colours with their
number; a mouse click on person 1's body on the video, or their row in the list, makes
them the person followed and the angle plot and the Describe panel change to their poses;
the Poses menu's Single/Every Person choice switches and is remembered; frames (and a
clip) without anybody on them draw without error."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from app.controllers.poses import MODE_KEY
from app.settings import UserSettings
from models.engine.desktop import extract_people
from models.geometry import joint_angles
from models.pose.skeleton import blazepose
from models.store import Repository
from tests.conftest import CLIPS
from tests.gui_support import dialogs_seen  # noqa: F401

ROOM = CLIPS / "two_people_room.mp4"
T = 30000


@pytest.fixture(scope="module")
def people_project(tmp_path_factory):
    """A project file holding every person of the room clip; their tracks."""
    path = tmp_path_factory.mktemp("people_gui") / "room.aastudio"
    repo = Repository(path)
    try:
        tracks = extract_people(ROOM, repo)
    finally:
        repo.close()
    assert sorted(tracks) == [0, 1]
    return path, tracks


def make_ctx(project_path, settings_path, every: bool = True, auto: bool = False):
    from app.context import AppContext

    settings = UserSettings(settings_path)
    settings.set(MODE_KEY, every)
    c = AppContext(Repository(project_path), settings=settings)
    c.poses.auto_extract = auto
    return c


@pytest.fixture
def win(qtbot, people_project, tmp_path, dialogs_seen):  # noqa: F811
    from widgets.main_window import MainWindow

    c = make_ctx(people_project[0], tmp_path / "settings.json")
    w = MainWindow(c)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    yield w
    w.close()
    c.shutdown()


def open_room(qtbot, w) -> None:
    p = w.ctx.player
    with qtbot.waitSignal(p.frameChanged, timeout=T):
        assert w.open_path(ROOM)
    qtbot.waitUntil(lambda: len(p.people) == 2, timeout=T)


def both_frame(tracks) -> int:
    both = np.flatnonzero(tracks[0].has_pose & tracks[1].has_pose)
    return int(both[len(both) // 2])


def seek(qtbot, w, frame: int) -> None:
    p = w.ctx.player
    p.seek(frame)
    qtbot.waitUntil(lambda: p.current_frame == frame, timeout=T)


def curve_y(w, name: str) -> np.ndarray:
    return np.asarray(w.panels["angles"].curves[name].getData()[1], dtype=float)


def expected_angles(track, w, name: str) -> np.ndarray:
    return joint_angles(track.world, min_visibility=w.ctx.visibility_threshold)[name]


def test_people_panel_lists_both_with_coverage_and_both_are_drawn(qtbot, win, people_project):
    _, tracks = people_project
    open_room(qtbot, win)
    panel = win.panels["people"]
    assert panel.persons() == [0, 1]
    for person, track in tracks.items():
        row = panel.rows[person]
        seen = int(track.has_pose.sum())
        assert row.coverage.text() == f"{seen}/72 frames"
        runs = row.bar.runs()
        assert sum(b - a for a, b in runs) == seen
    assert tracks[1].has_pose.sum() < 72          # person 1 leaves the picture
    assert panel.list.currentRow() == 0 and win.ctx.poses.person == 0
    assert "2 people" in panel.hint.text()
    frame = both_frame(tracks)
    seek(qtbot, win, frame)
    view = win.video.view
    drawn = {item.person: item for item in view.skeletons if item.pose is not None}
    assert set(drawn) == {0, 1}
    for person, item in drawn.items():
        np.testing.assert_allclose(item.pose, tracks[person].pixels(frame), equal_nan=True)
    # the person followed full width, the other thinner; their own colours
    assert drawn[1]._width() < drawn[0]._width()
    assert drawn[0]._bone_pen("left", 2).color().hue() != drawn[1]._bone_pen("left", 2).color().hue()
    # left and right of one person stay apart: a light and a deep shade of one hue
    left, right = drawn[0]._colors["left"], drawn[0]._colors["right"]
    assert abs(left.hslHue() - right.hslHue()) <= 2 and left.lightnessF() - right.lightnessF() > 0.3
    labels = {lab.person: lab for lab in view.labels if lab.isVisible()}
    assert set(labels) == {0, 1} and labels[1].text == "1" and labels[0].followed
    # each badge sits above its own person's head
    for person, lab in labels.items():
        head = tracks[person].pixels(frame)[:11]
        assert abs(lab.pos().x() - np.nanmean(head[:, 0])) < 5
        assert lab.pos().y() <= np.nanmin(head[:, 1]) + 1


def click_person(qtbot, w, tracks, person: int, frame: int) -> None:
    """A real left click on the middle of ``person``'s torso on the video."""
    sk = blazepose()
    px = tracks[person].pixels(frame)
    torso = [sk.index(n) for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
    x, y = np.nanmean(px[torso, 0]), np.nanmean(px[torso, 1])
    view = w.video.view
    at = view.mapFromScene(float(x), float(y))
    assert view.viewport().rect().contains(at)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=at)


def test_a_click_on_person_1_on_the_video_follows_them(qtbot, win, people_project):
    _, tracks = people_project
    open_room(qtbot, win)
    frame = both_frame(tracks)
    seek(qtbot, win, frame)
    describe = win.panels["describe"]
    win.show_panel("describe")
    qtbot.waitUntil(lambda: describe.facts != [], timeout=T)
    name = "left_elbow"
    np.testing.assert_allclose(curve_y(win, name), expected_angles(tracks[0], win, name)[:72],
                               equal_nan=True)
    before_facts = [f.to_dict() for f in describe.facts]
    changed = []
    win.ctx.poses.person_changed.connect(changed.append)
    click_person(qtbot, win, tracks, 1, frame)
    assert changed == [1] and win.ctx.poses.person == 1
    assert win.ctx.player.track is win.ctx.player.people[1]
    # the angle plot now shows person 1's angles
    y1 = curve_y(win, name)
    np.testing.assert_allclose(y1, expected_angles(tracks[1], win, name), equal_nan=True)
    assert np.isfinite(y1).sum() < np.isfinite(expected_angles(tracks[0], win, name)).sum()
    assert "person 1" in win.panels["angles"].title.text()
    # the Describe panel describes person 1 now
    qtbot.waitUntil(lambda: "person 1" in describe.header.text(), timeout=T)
    assert [f.to_dict() for f in describe.facts] != before_facts
    assert describe.facts == describe.ctrl.facts(frame)
    # the list follows; the overlay emphasises person 1
    assert win.panels["people"].list.currentRow() == 1
    drawn = {item.person: item for item in win.video.view.skeletons if item.pose is not None}
    assert drawn[1]._width() > drawn[0]._width()
    # a click on the empty floor far from both changes nothing
    view = win.video.view
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.mapFromScene(60.0, 1040.0))
    assert win.ctx.poses.person == 1 and changed == [1]
    click_person(qtbot, win, tracks, 0, frame)
    assert win.ctx.poses.person == 0 and changed == [1, 0]
    np.testing.assert_allclose(curve_y(win, name), expected_angles(tracks[0], win, name),
                               equal_nan=True)


def test_choosing_in_the_list_follows_the_person(qtbot, win, people_project):
    _, tracks = people_project
    open_room(qtbot, win)
    frame = both_frame(tracks)
    seek(qtbot, win, frame)
    panel = win.panels["people"]
    win.show_panel("people")
    describe = win.panels["describe"]
    win.show_panel("describe")
    qtbot.waitUntil(lambda: describe.facts != [], timeout=T)
    header = describe.header.text()
    lst = panel.list
    rect = lst.visualItemRect(lst.item(1))
    qtbot.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert win.ctx.poses.person == 1
    np.testing.assert_allclose(curve_y(win, "right_knee"),
                               expected_angles(tracks[1], win, "right_knee"), equal_nan=True)
    qtbot.waitUntil(lambda: describe.header.text() != header, timeout=T)
    assert "person 1" in describe.header.text()
    phrase = win.ctx.poses.subject_phrase()
    assert phrase in (None, "the person on the left", "the person on the right")
    # person 1 stands left of person 0 in the picture on this frame
    assert phrase == "the person on the left"
    lst.setFocus()
    qtbot.keyClick(lst, Qt.Key.Key_Up)
    assert win.ctx.poses.person == 0 and "person 0" in describe.header.text()
    # a new clip starts with the main person again
    win.ctx.poses.set_person(1)
    with qtbot.waitSignal(win.ctx.poses.person_changed, timeout=T) as sig:
        win.ctx.player.open(ROOM)
    assert sig.args == [0] and win.ctx.poses.person == 0


def test_backend_chooser_switches_and_persists(qtbot, people_project, tmp_path, dialogs_seen):  # noqa: F811
    from widgets.main_window import MainWindow

    settings_path = tmp_path / "s.json"
    c = make_ctx(people_project[0], settings_path, every=False)
    w = MainWindow(c)
    qtbot.addWidget(w)
    w.show()
    try:
        single, every = w.actions_by_id["poses.single_person"], w.actions_by_id["poses.every_person"]
        assert single.isChecked() and not every.isChecked()
        assert single.actionGroup() is every.actionGroup() and single.actionGroup().isExclusive()
        with qtbot.waitSignal(c.player.frameChanged, timeout=T):
            assert w.open_path(ROOM)
        assert not c.player.people
        panel = w.panels["people"]
        assert panel.persons() == [] and "Every Person" in panel.hint.text()
        every.trigger()
        assert c.poses.every_person and every.isChecked() and not single.isChecked()
        assert UserSettings(settings_path).get(MODE_KEY) is True     # on disk at once
        qtbot.waitUntil(lambda: sorted(c.player.people) == [0, 1], timeout=T)
        assert panel.persons() == [0, 1]
        single.trigger()
        assert not c.poses.every_person and UserSettings(settings_path).get(MODE_KEY) is False
        qtbot.waitUntil(lambda: not c.player.people, timeout=T)
        assert panel.persons() == [] and w.video.view.skeletons[0].person is None
        every.trigger()
    finally:
        w.close()
        c.shutdown()
    # a new session starts the way the last one chose
    from app.context import AppContext

    c3 = AppContext(Repository(people_project[0]), settings=UserSettings(settings_path))
    try:
        assert c3.poses.every_person
        w3 = MainWindow(c3)
        qtbot.addWidget(w3)
        assert w3.actions_by_id["poses.every_person"].isChecked()
        w3.close()
    finally:
        c3.shutdown()


def test_frames_without_a_person_draw_without_error(qtbot, win, people_project):
    _, tracks = people_project
    open_room(qtbot, win)
    away = np.flatnonzero(~tracks[1].has_pose)
    assert len(away)
    win.ctx.poses.set_person(1)
    win.show_panel("describe")
    describe = win.panels["describe"]
    for frame in (int(away[0]), int(away[-1])):
        seek(qtbot, win, frame)
        drawn = {item.person for item in win.video.view.skeletons if item.pose is not None}
        assert drawn == {0}
        assert "person 1 not seen" in win.video.view.message_item.text()
        assert [f.phrase for f in describe.facts] == ["no person detected"]
        assert "person 1" in describe.header.text()
        assert win.ctx.poses.subject_phrase() is None
        labels = [lab.person for lab in win.video.view.labels if lab.isVisible()]
        assert labels == [0]
    # a click where person 1 stood on another frame hits nobody now
    qtbot.mouseClick(win.video.view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert win.ctx.poses.person == 1


def test_a_clip_with_nobody_in_every_person_mode(qtbot, tmp_path, dialogs_seen):  # noqa: F811
    from widgets.main_window import MainWindow

    clip = tmp_path / "empty_room.avi"
    out = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (160, 120))
    for _ in range(5):
        out.write(np.full((120, 160, 3), (40, 160, 90), np.uint8))
    out.release()
    c = make_ctx(tmp_path / "n.aastudio", tmp_path / "s.json", every=True, auto=True)
    w = MainWindow(c)
    qtbot.addWidget(w)
    w.show()
    try:
        with qtbot.waitSignal(c.poses.finished, timeout=120000):
            assert w.open_path(os.fspath(clip))
        assert c.player.people == {} and c.player.track is None
        panel = w.panels["people"]
        assert panel.persons() == [] and "Nobody" in panel.hint.text()
        for frame in range(5):
            seek(qtbot, w, frame)
        assert all(item.pose is None for item in w.video.view.skeletons)
        assert c.poses.subject_phrase() is None and dialogs_seen == []
    finally:
        w.close()
        c.shutdown()


def test_describe_names_the_person_followed_as_the_overlay_shows_them(qtbot, win, people_project):
    """Text names the person followed by their place in the picture where that is clear,
    else by the number on their badge ("person 1"); the pair box appears with two people
    on the frame and says what can be told about them."""
    from models.describe import describe
    from models.describe.interaction import describe_pair

    _, tracks = people_project
    open_room(qtbot, win)
    frame = both_frame(tracks)
    seek(qtbot, win, frame)
    describe_panel = win.panels["describe"]
    win.show_panel("describe")
    qtbot.waitUntil(lambda: describe_panel.facts != [], timeout=T)
    # person 0 stands right of person 1 on this frame (as the badges show)
    assert win.ctx.poses.subject_phrase() == "the person on the right"
    text = describe_panel.text.toPlainText()
    assert text == describe(describe_panel.facts, "the person on the right")
    assert "the person on the right" in text.lower() and text != describe(describe_panel.facts)
    # the pair box: the other person (1) and the interaction text of the two
    assert describe_panel.pair_text.isVisible() and describe_panel.pair_header.isVisible()
    assert "person 1" in describe_panel.pair_header.text()
    mv = win.ctx.visibility_threshold
    assert describe_panel.pair_text.toPlainText() == describe_pair(tracks, 0, 1, frame, mv)
    assert describe_panel.pair_text.toPlainText() not in text     # its own box, not mixed in
    # following person 1 (on the left): both texts change with them
    win.ctx.poses.set_person(1)
    qtbot.waitUntil(lambda: "the person on the left" in describe_panel.text.toPlainText().lower(),
                    timeout=T)
    assert "person 0" in describe_panel.pair_header.text()
    assert describe_panel.pair_text.toPlainText() == describe_pair(tracks, 1, 0, frame, mv)
    # a frame where person 1 is not seen: no place to name them by, so their badge number;
    # nobody else to pair with, so no pair box
    away = int(np.flatnonzero(~tracks[1].has_pose)[-1])
    seek(qtbot, win, away)
    qtbot.waitUntil(lambda: describe_panel.text.toPlainText().startswith("Person 1"),
                    timeout=T)
    assert win.ctx.poses.subject_phrase() is None
    assert win.ctx.poses.subject_name() == "person 1"
    assert describe_panel.text.toPlainText() == describe(describe_panel.facts, "person 1")
    assert not describe_panel.pair_text.isVisible() and not describe_panel.pair_header.isVisible()
    # person 0 found alone on that frame: still "person 0", never "the person" (the
    # other man is in the picture there, only lost by the landmarker); no pair box either
    win.ctx.poses.set_person(0)
    qtbot.waitUntil(lambda: describe_panel.text.toPlainText().startswith("Person 0"),
                    timeout=T)
    assert win.ctx.poses.subject_phrase() == "the person"
    assert win.ctx.poses.subject_name() == "person 0"
    assert not describe_panel.pair_text.isVisible()
    # nobody else on that frame: no nearest other person
    assert win.ctx.describe.nearest_other(away) is None


def test_compare_and_motion_texts_name_the_person_followed(qtbot, win, people_project):
    from models.diff import describe_diff

    _, tracks = people_project
    open_room(qtbot, win)
    ctrl = win.ctx.describe
    path = win.ctx.player.path
    frame = both_frame(tracks)
    away = int(np.flatnonzero(~tracks[1].has_pose)[-1])
    # both marks where person 0 stands on the right: named so in the difference text
    assert ctrl._pair_subject((path, frame - 2), (path, frame + 2)) == "the person on the right"
    # "on the right" on one mark, found alone on the other: their badge number
    assert ctrl._pair_subject((path, frame), (path, away)) == "person 0"
    win.ctx.marks.mark_a(path, frame - 2)
    win.ctx.marks.mark_b(path, frame + 2)
    with qtbot.waitSignal(ctrl.pairReady, timeout=T) as sig:
        ctrl.compare()
    pair = sig.args[0]
    assert pair.text == describe_diff(pair.facts, "the person on the right")
    # the motion text over an interval: the same rule over the interval's frames
    fps = tracks[0].fps
    assert ctrl.motion_subject(2 / fps, (frame + 2) / fps) == "the person on the right"
    assert ctrl.motion_subject(0.0, (len(tracks[0]) - 1) / fps) == "person 0"
    win.ctx.poses.set_person(1)
    assert ctrl.motion_subject(0.0, (len(tracks[0]) - 1) / fps) == "person 1"


def test_status_bar_counts_the_person_chosen(qtbot, win, people_project):
    _, tracks = people_project
    bar = win.statusBar()
    with qtbot.waitSignal(win.ctx.poses.finished, timeout=T):
        assert win.open_path(ROOM)
    n0, n1 = int(tracks[0].has_pose.sum()), int(tracks[1].has_pose.sum())
    assert n0 != n1
    assert bar.currentMessage() == (f"Poses of {ROOM.name}: 2 people; person 0 found on {n0} "
                                    "of 72 frames")
    win.ctx.poses.set_person(1)
    assert bar.currentMessage() == (f"Poses of {ROOM.name}: 2 people; person 1 found on {n1} "
                                    "of 72 frames")
