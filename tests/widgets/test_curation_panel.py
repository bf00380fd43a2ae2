"""The QA curation panel offscreen: one-key review changes the stored status, undo
restores it, the player jumps to the item's frames, filters and the editor work."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.context import AppContext
from models.qa.record import Provenance, QARecord
from widgets.curation.panel import CurationPanel


@pytest.fixture
def panel(qtbot, tmp_path, clip):
    from models.store import Repository

    repo = Repository(tmp_path / "gui.aastudio")
    video = str(clip("two_people_room.mp4"))
    items = [QARecord(f"q{i}", "body_part_pose" if i % 2 else "spatial_difference",
                      "two_people_room.mp4", f"Question {i}?", ["straight", "fully bent", "partly bent"],
                      i % 3, frame_a=5 + i, frame_b=(30 + i) if i % 2 == 0 else None,
                      provenance=Provenance(facts=[{"part": "left_knee", "value": 90.0 + i}]))
             for i in range(8)]
    repo.add_qa_items(items)
    ctx = AppContext(repo)
    ctx.poses.auto_extract = False
    ctx.dataset.set_single(video)
    w = CurationPanel(ctx)
    qtbot.addWidget(w)
    w.show()
    yield w
    ctx.shutdown()


def _status(panel, qa_id):
    return panel.ctx.repo.qa_record(qa_id).review.status


def test_keys_accept_reject_change_stored_status_and_undo_restores(panel, qtbot):
    assert panel.model.rowCount() == 8
    panel.select_row(0)
    panel.table.setFocus()
    before = panel.ctx.repo.qa_row("q0")
    qtbot.keyClick(panel.table, Qt.Key.Key_A)
    assert _status(panel, "q0") == "accepted"
    assert panel.model.qa_id(panel.table.currentIndex().row()) == "q1"  # moved on
    qtbot.keyClick(panel.table, Qt.Key.Key_R)
    qtbot.keyClick(panel.table, Qt.Key.Key_F)
    assert (_status(panel, "q1"), _status(panel, "q2")) == ("rejected", "needs_fix")
    qtbot.keyClick(panel.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(panel.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (_status(panel, "q1"), _status(panel, "q2")) == ("candidate", "candidate")
    qtbot.keyClick(panel.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert panel.ctx.repo.qa_row("q0") == before
    qtbot.keyClick(panel.table, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert _status(panel, "q0") == "accepted"
    assert panel.model.data(panel.model.index(0, 0)) == "accepted"


def test_bulk_selection_filter_and_editor(panel, qtbot):
    panel.table.selectAll()
    panel.reject()
    assert panel.ctx.repo.qa_count({"status": "rejected"}) == 8
    panel.status_box.setCurrentIndex(panel.status_box.findData("rejected"))
    assert panel.model.rowCount() == 8
    panel.task_box.setCurrentIndex(panel.task_box.findData("spatial_difference"))
    assert panel.model.rowCount() == 4
    panel.search.setText("Question 4")
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=3000)
    panel.select_row(0)
    assert panel.editor.qa_id == "q4"
    panel.editor.question.setPlainText("Edited question ✓?")
    panel.editor.options.setPlainText("straight\nbent\nhalf bent\nfully bent")
    panel.editor.answer.setCurrentIndex(3)
    panel.editor.note.setText("fixed by hand")
    panel.editor.commit()
    rec = panel.ctx.repo.qa_record("q4")
    assert (rec.question, rec.options[3], rec.answer_index, rec.review.status) == \
        ("Edited question ✓?", "fully bent", 3, "edited")
    assert panel.ctx.repo.qa_history("q4")[-1]["kind"] == "edit"
    panel.controller.undo()
    assert panel.ctx.repo.qa_record("q4").question == "Question 4?"
    assert "Question 4?" in panel.editor.question.toPlainText()


def test_selecting_an_item_seeks_the_player_and_marks_frames(panel, qtbot):
    panel.select_row(0)  # q0: frames A=5, B=30
    player = panel.ctx.player
    qtbot.waitUntil(lambda: player.current_frame == 5, timeout=10000)
    assert panel.ctx.marks.a[1] == 5 and panel.ctx.marks.b[1] == 30
    panel.select_row(1)  # same clip already open: a plain seek
    qtbot.waitUntil(lambda: player.current_frame == 6, timeout=10000)
    report = panel.show_report()
    assert report["items"] == 8
    assert "body part pose" in panel.summary.text() and "candidates" in panel.summary.toolTip()


def test_table_loads_rows_lazily_and_sorts_in_sql(qtbot, tmp_path):
    from types import SimpleNamespace

    from PySide6.QtWidgets import QTableView

    from app.controllers.curation import CurationController
    from models.store import Repository
    from widgets.curation.table_model import PAGE, QATableModel

    repo = Repository(tmp_path / "big.aastudio")
    repo.add_qa_items([QARecord(f"q{i:05d}", "relative_position", f"c{i % 7}.mp4", f"Q {i:05d}?",
                                ["a", "b"], i % 2) for i in range(5000)])
    ctx = SimpleNamespace(repo=repo, player=None, message=lambda *a: None, warn=lambda *a: None)
    ctrl = CurationController(ctx)
    model = QATableModel(ctrl)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(600, 300)
    model.reload()
    view.show()
    view.grab()
    assert model.rowCount() == 5000 and 0 < len(model._rows) <= 2 * PAGE
    view.setSortingEnabled(True)
    view.sortByColumn(3, Qt.SortOrder.DescendingOrder)  # question, in SQL
    assert model.qa_id(0) == "q04999"
    ctrl.set_filter("video", "c3.mp4")
    assert model.rowCount() == len([i for i in range(5000) if i % 7 == 3])
    repo.close()


class _LoopModel(BaseHTTPRequestHandler):
    """A real loopback OpenAI-compatible server whose model always answers "B"."""
    protocol_version = "HTTP/1.1"
    seen: list = []

    def log_message(self, *args):
        pass

    def _send(self, body: bytes, ctype="application/json") -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._send(json.dumps({"data": [{"id": "loop-model"}]}).encode())

    def do_POST(self):
        payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        type(self).seen.append(payload)
        if payload.get("stream"):
            chunk = json.dumps({"choices": [{"delta": {"content": "B"}}]}).encode()
            self._send(b"data: " + chunk + b"\n\ndata: [DONE]\n\n", "text/event-stream")
        else:
            self._send(json.dumps({"choices": [{"message": {"content": "B"}}]}).encode())


@pytest.fixture
def loop_model():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LoopModel)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _LoopModel.seen.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1#loop-model"
    server.shutdown()
    server.server_close()


def test_blind_test_dialog_adds_a_model_and_flags_items_it_answers_blind(panel, qtbot, loop_model):
    dlg = panel.blind_test()
    assert all(dlg.combo.itemData(i).kind != "rule" for i in range(dlg.combo.count()))
    dlg.spec.setText(loop_model)
    dlg.add_spec()
    assert "loop-model" in dlg.combo.currentText()
    panel.select_row(1)                       # q1: answer index 1 = "B"
    with qtbot.waitSignal(panel.controller.itemsChanged, timeout=20000):
        dlg.accept()
    right = {q for q in (f"q{i}" for i in range(8)) if "blind" in panel.ctx.repo.qa_flags(q)}
    assert right == {"q1", "q4", "q7"}        # answer_index == 1 <=> i % 3 == 1
    assert len(_LoopModel.seen) == 8
    parts = [p for m in _LoopModel.seen[0]["messages"] for p in
             (m["content"] if isinstance(m["content"], list) else [])]
    assert not [p for p in parts if p.get("type") == "image_url"]   # no frames sent
    assert "blind test" in panel.editor.info.text()


def test_generation_for_a_clip_without_poses_offers_extraction(panel, qtbot, monkeypatch):
    asked = []
    monkeypatch.setattr(panel.controller, "extract_and_generate", asked.append)
    dlg = panel.generate_chosen()          # a selection of the dataset's clips
    assert dlg.checked() == []
    dlg.set_checked(["two_people_room.mp4"])
    with qtbot.waitSignal(panel.controller.posesMissing, timeout=20000):
        dlg.accept()
    box = panel._extract_box
    assert box.isVisible() and "no extracted poses (two_people_room.mp4)" in box.text()
    box.done(QMessageBox.StandardButton.Yes)
    assert asked == [[panel.ctx.dataset.paths[0]]]
    assert panel.ctx.repo.qa_count() == 8     # nothing generated without poses


def test_editor_save_keeps_untouched_odd_text_and_shows_history(panel, qtbot):
    odd = ["  two\nlines  ", "emoji 🤸 and עברית", "'); DROP TABLE qa_items; --"]
    panel.ctx.repo.edit_qa("q3", question="He said \"why?\"\nthen left", options=odd,
                           answer_index=2)
    panel.controller.undoChanged.emit("", "")
    panel.select_row(3)
    assert panel.editor.qa_id == "q3"
    panel.editor.note.setText("checked ✓")
    panel.editor.commit()                   # only the note changed
    rec = panel.ctx.repo.qa_record("q3")
    assert rec.options == odd and rec.question == "He said \"why?\"\nthen left"
    assert (rec.answer_index, rec.review.note) == (2, "checked ✓")
    history = panel.editor.history.toPlainText().splitlines()
    assert len(history) == 2 and "note: ∅ → “checked ✓”" in history[0]
    assert "question: “Question 3?” → “He said" in history[1]
    panel.controller.undo()
    assert "(undone)" in panel.editor.history.toPlainText().splitlines()[0]


def test_item_checks_show_on_selection_and_duplicates_after_the_report(panel):
    panel.ctx.repo.edit_qa("q5", options=["bent", "slightly bent", "straight"], answer_index=0)
    panel.ctx.repo.edit_qa("q7", question="Question 5?", options=["bent", "slightly bent",
                                                                  "straight"], answer_index=0)
    panel.select_row(5)
    assert "an option contains the answer text" in panel.editor.info.text()
    assert "duplicate" not in panel.editor.info.text()
    panel.select_row(7)
    report = panel.show_report()
    assert report["flag_counts"] == {"an option contains the answer text": 2, "duplicate": 1,
                                     "near-duplicate": 1}      # q6 ~ q0: "Question #?"
    assert "duplicate of q5" in panel.editor.info.text()


def test_facts_show_as_a_readable_table_not_json(panel):
    panel.select_row(2)
    table = panel.editor.facts
    assert table.rowCount() == 1
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers == ["part", "value"]
    assert table.texts() == [["left knee", "92"]]
    assert not any(cell.lstrip().startswith(("{", "[", '"')) for row in table.texts() for cell in row)


def test_undo_and_redo_messages_name_the_item_in_words(panel, qtbot):
    messages = []
    panel.ctx.statusMessage.connect(lambda text, _ms: messages.append(text))
    panel.select_row(0)
    panel.accept()
    assert panel.undo_act.toolTip() == "Undo accepting “Question 0?” (Ctrl+Z)"
    panel.controller.undo()
    assert messages[-1] == "Undid accepting “Question 0?”"
    assert panel.redo_act.toolTip() == "Redo accepting “Question 0?” (Ctrl+Shift+Z)"
    panel.controller.redo()
    assert messages[-1] == "Redid accepting “Question 0?”"
    panel.controller.set_status(["q1", "q2", "q3"], "needs_fix")
    panel.controller.undo()
    assert messages[-1] == "Undid marking as needing a fix 3 items"
    assert not any("q0" in m or "q1" in m for m in messages)


def test_the_question_column_keeps_room_in_a_narrow_dock(panel, qtbot):
    from widgets.curation.table_model import COLUMNS

    q = [k for k, _t in COLUMNS].index("question")
    for width in (520, 700, 1000):       # the table itself: as narrow as a side dock gets
        panel.table.resize(width, 300)
        qtbot.wait(10)
        viewport = panel.table.viewport().width()
        header = panel.table.horizontalHeader()
        assert header.sectionSize(q) >= 0.4 * viewport, (width, header.sectionSize(q), viewport)
        right_edge = sum(header.sectionSize(i) for i in range(len(COLUMNS)))
        assert right_edge <= viewport + 1              # nothing pushed off to the right


def test_quality_report_is_a_view_that_stays(panel, qtbot):
    panel.ctx.repo.edit_qa("q5", options=["bent", "slightly bent", "straight"], answer_index=0)
    panel.ctx.repo.edit_qa("q7", question="Question 5?", options=["bent", "slightly bent",
                                                                  "straight"], answer_index=0)
    report = panel.show_report()
    assert report["flag_counts"]["duplicate"] == 1
    assert not [b for b in panel.findChildren(QMessageBox) if b.isVisible()]   # no pop-up
    assert panel.lower.currentWidget() is panel.quality
    rows = panel.quality.texts()
    assert rows[0].startswith("Quality report") and "8 items checked" in rows[0]
    assert any(r.strip().startswith("duplicate | 1 item") for r in rows)
    assert any("“Question 5?” |" in r for r in rows)               # the flagged item, in words
    panel.select_row(3)                                           # still there afterwards
    assert panel.quality.texts() == rows
    flagged = panel.quality.tree.findItems("“Question 5?”", Qt.MatchFlag.MatchRecursive
                                           | Qt.MatchFlag.MatchExactly, 0)[0]
    panel.quality.tree.itemDoubleClicked.emit(flagged, 0)
    assert panel.controller.current in ("q5", "q7") and panel.lower.currentWidget() is panel.editor


def test_blind_test_result_stays_and_its_dialog_fits_the_field(panel, qtbot, loop_model):
    dlg = panel.blind_test()
    qtbot.waitExposed(dlg)
    fm = dlg.spec.fontMetrics()
    assert dlg.spec.width() >= fm.horizontalAdvance(dlg.spec.placeholderText())
    dlg.spec.setText(loop_model)
    dlg.add_spec()
    with qtbot.waitSignal(panel.controller.blindTestDone, timeout=20000):
        dlg.accept()
    rows = panel.quality.texts()
    assert panel.lower.currentWidget() is panel.quality
    top = next(r for r in rows if r.startswith("Blind test with"))
    assert "loop-model" in top and "3 of 8 right without the video" in top
    assert sum("answered without the video" in r for r in rows) == 3
