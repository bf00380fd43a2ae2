"""QA store reliability: crash safety, concurrent writers, exact undo/redo, odd text,
refused files. Real SQLite files, real processes and threads."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading

import pytest

from models.errors import StoreError
from models.qa.errors import QAError
from models.qa.record import QARecord
from models.store import Repository

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ODD = ["He said \"no\" and 'yes'", "line one\nline two\r\nline three", "emoji 🤸‍♀️🏀👍🏽",
       "עברית ומילים بالعربية", "'); DROP TABLE qa_items; --", "x" * 200_000, "tab\tnul-free \\ %_"]


def _items(n: int, video: str = "clip.mp4") -> list[QARecord]:
    return [QARecord(f"q{i:05d}", "body_part_pose", video, f"Question {i}?",
                     ["straight", "fully bent", "partly bent"], i % 3) for i in range(n)]


def _answer(text: str) -> dict:
    return {"video": "bg.mp4", "frame_indices": [0, 4], "backend": "transformers",
            "model_id": "tiny", "template_id": "free", "template_version": "1",
            "question": "What happens?", "prompt": "What happens?", "answer": text,
            "generation_params": {"max_new_tokens": 8}}


def _snapshot(repo) -> list[tuple]:
    """Every row, every column: the storage class (typeof) and the exact value."""
    from models.store.qa_rows import COLUMNS

    cols = ", ".join(f"typeof({c}), {c}" for c in COLUMNS)
    return [tuple(r) for r in repo.db.query(f"SELECT rowid, {cols} FROM qa_items ORDER BY qa_id")]


CHILD = textwrap.dedent("""
    import sys, threading
    sys.path.insert(0, {root!r})
    from models.store import Repository
    from models.qa.record import QARecord
    repo = Repository({path!r})
    repo.add_qa_items([QARecord(f"q{{i:05d}}", "body_part_pose", "c.mp4", f"Q{{i}}?",
                                ["a", "b"], 0) for i in range(2000)])
    def burst():
        for i in range(2000):
            repo.edit_qa(f"q{{i:05d}}", question=f"edited {{i}}", note=f"note {{i}}")
            print(i, flush=True)
    t = threading.Thread(target=burst)
    t.start()
    t.join()
""")


def test_sigkill_during_edit_burst_keeps_every_committed_edit(tmp_path):
    path = str(tmp_path / "crash.aastudio")
    proc = subprocess.Popen([sys.executable, "-c", CHILD.format(root=REPO_ROOT, path=path)],
                            stdout=subprocess.PIPE, text=True)
    committed = []
    for line in proc.stdout:
        committed.append(int(line))
        if len(committed) >= 150:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    repo = Repository(path)
    assert repo.db.query("PRAGMA integrity_check")[0][0] == "ok"
    for i in committed:
        rec = repo.qa_record(f"q{i:05d}")
        assert (rec.question, rec.review.note, rec.review.status) == (f"edited {i}", f"note {i}", "edited")
    edited = repo.qa_count({"status": "edited"})
    assert edited >= len(committed)
    # nothing half-written: every edited row has exactly one action with its history row
    assert repo.db.query("SELECT COUNT(*) FROM qa_actions")[0][0] == edited
    assert repo.db.query("SELECT COUNT(*) FROM qa_history")[0][0] == edited
    assert repo.qa_count({"text": "edited"}) == edited
    repo.close()


def test_background_writer_and_foreground_edits_lose_nothing(tmp_path):
    repo = Repository(tmp_path / "c.aastudio")
    repo.add_qa_items(_items(300))
    other = Repository(tmp_path / "c.aastudio")  # a second connection set, same file
    errors = []

    def background(r, tag):
        try:
            for k in range(60):
                r.save_answer(_answer(f"{tag} answer {k}"))  # the VLM helper's writer
                r.add_qa_items([QARecord(f"{tag}{k}", "repetition_count", "bg.mp4",
                                         f"bg {k}?", ["once", "twice"], 1)])
                r.add_captions([{"video": "bg.mp4", "text": f"{tag} caption {k}"}])
        except Exception as exc:  # noqa: BLE001 (collected and asserted below)
            errors.append(exc)
    threads = [threading.Thread(target=background, args=(repo, "same")),
               threading.Thread(target=background, args=(other, "other"))]
    for t in threads:
        t.start()
    for i in range(150):
        repo.set_qa_status([f"q{i:05d}"], "accepted")
        repo.edit_qa(f"q{i + 150:05d}", note=f"fg {i}")
    for t in threads:
        t.join()
    assert errors == []
    assert repo.qa_count({"status": "accepted"}) == 150
    assert repo.qa_count({"source": "rule", "video": "bg.mp4"}) == 120
    assert len(repo.captions("bg.mp4")) == 120
    assert len(repo.answers("bg.mp4")) == 120
    assert [repo.qa_record(f"q{i + 150:05d}").review.note for i in range(150)] == \
        [f"fg {i}" for i in range(150)]
    other.close()


def test_undo_redo_round_trip_is_byte_identical_and_survives_restart(tmp_path):
    path = tmp_path / "u.aastudio"
    repo = Repository(path)
    repo.add_qa_items(_items(20))
    states = [_snapshot(repo)]
    actions = [lambda: repo.edit_qa("q00001", question="New?", options=["a", "b", "c", "d"],
                                    answer_index=3, note="fixed"),
               lambda: repo.accept("q00002"), lambda: repo.reject("q00003"),
               lambda: repo.needs_fix("q00004"),
               lambda: repo.set_qa_status([f"q{i:05d}" for i in range(5, 15)], "accepted"),
               lambda: repo.delete_qa(["q00016", "q00017"])]
    watcher = Repository(path)  # another connection sees each action once it returns
    for act in actions:
        assert act() is not None
        states.append(_snapshot(repo))
        assert _snapshot(watcher) == states[-1]
    watcher.close()
    assert len(set(map(tuple, states))) == len(states)
    repo.close()
    repo = Repository(path)  # the stacks live in the file
    for expected in reversed(states[:-1]):
        assert repo.undo() is not None
        assert _snapshot(repo) == expected
    assert repo.undo() is None and repo.undo_label() is None
    for expected in states[1:4]:
        repo.redo()
        assert _snapshot(repo) == expected
    repo.close()
    repo = Repository(path)
    assert repo.redo_label() == "needs-fix q00004"
    repo.accept("q00010")  # a new action discards the redo stack
    assert repo.redo() is None
    assert repo.undo()["label"] == "accepted q00010"
    assert _snapshot(repo) == states[3]
    kinds = [h["kind"] for h in repo.qa_history("q00001")]
    assert kinds == ["edit"]


def test_odd_text_round_trips_exactly(project):
    recs = [QARecord(f"odd{i}", "action_sequence", t[:50] + ".mp4", t, [t, t[::-1] + "!"], 0)
            for i, t in enumerate(ODD)]
    project.add_qa_items(recs)
    for rec in recs:
        back = project.qa_record(rec.qa_id)
        assert (back.question, back.options, back.video) == (rec.question, rec.options, rec.video)
    for i, t in enumerate(ODD):
        project.edit_qa(f"odd{i}", note=t, options=["plain", t])
        assert project.qa_record(f"odd{i}").review.note == t
        assert project.qa_record(f"odd{i}").options == ["plain", t]
    project.add_captions([{"video": "v.mp4", "text": t} for t in ODD])
    assert [c["text"] for c in project.captions("v.mp4")] == ODD
    assert project.qa_count({"text": "DROP TABLE"}) == 1
    assert project.qa_count({"text": "%_"}) == 1  # LIKE wildcards are escaped


def test_bad_edits_are_refused_and_change_nothing(project):
    project.add_qa_items(_items(2))
    before = _snapshot(project)
    with pytest.raises(QAError, match="identical"):
        project.edit_qa("q00000", options=["same", "same"])
    with pytest.raises(QAError, match="one of the 2"):
        project.edit_qa("q00000", options=["a", "b"], answer_index=2)
    with pytest.raises(QAError, match="empty"):
        project.edit_qa("q00000", question="  ")
    with pytest.raises(QAError, match="No QA item"):
        project.edit_qa("missing", note="x")
    with pytest.raises(QAError, match="field 'options' must hold 2-10 options, got 11"):
        project.edit_qa("q00000", options=[f"o{i}" for i in range(11)])
    with pytest.raises(QAError, match="field 'question' holds a lone surrogate"):
        project.edit_qa("q00000", question="bad \udc80 text")
    assert _snapshot(project) == before and project.undo_label() is None


@pytest.mark.parametrize("change, field", [
    ({"answer_index": 7}, "answer_index"), ({"options": [str(i) for i in range(12)]}, "options"),
    ({"start_s": float("nan")}, "start_s"), ({"end_s": "2.0"}, "end_s"),
    ({"frame_a": 2 ** 70}, "frame_a"), ({"qa_id": ["x"]}, "qa_id"),
    ({"video": "a\x00.mp4"}, "video"), ({"question": "\ud800"}, "question"),
])
def test_new_items_are_checked_against_the_schema(project, change, field):
    """Every way in (generators, imports, the GUI) stores through add_qa_items: a record the
    schema refuses stores nothing (before: stored, then an export or the table crashed)."""
    items = _items(3)
    for key, value in change.items():
        setattr(items[2], key, value)
    with pytest.raises(QAError, match=f"field '{field}'"):
        project.add_qa_items(items)
    assert project.qa_count() == 0


def test_newer_schema_file_is_refused_untouched(tmp_path):
    path = tmp_path / "future.aastudio"
    Repository(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version(version, name) VALUES (999, '0999_future')")
    conn.commit()
    conn.close()
    data = path.read_bytes()
    with pytest.raises(StoreError, match="newer"):
        Repository(path)
    assert path.read_bytes() == data


def test_non_sqlite_file_is_refused_untouched(tmp_path):
    path = tmp_path / "notes.aastudio"
    path.write_bytes(b"just some notes, not a database\n" * 10)
    with pytest.raises(StoreError, match="not SQLite"):
        Repository(path)
    assert path.read_bytes() == b"just some notes, not a database\n" * 10


def test_summary_filters_and_paging(project):
    project.add_qa_items(_items(30))
    project.add_qa_items([QARecord("m1", "movement_direction", "other.mp4", "Where?", ["up", "down"], 1,
                                   source="model:tiny")])
    project.set_qa_status(["q00001", "q00002"], "rejected")
    summary = project.qa_summary()
    assert summary["body_part_pose"]["rejected"] == 2 and summary["body_part_pose"]["total"] == 30
    assert project.qa_ids({"source": "model:tiny"}) == ["m1"]
    assert project.qa_ids({"status": ["rejected"]}, sort="qa_id", descending=True) == ["q00002", "q00001"]
    rows = project.qa_table_rows(project.qa_ids()[:5])
    assert set(rows) == {"q00000", "q00001", "q00002", "q00003", "q00004"}
    assert project.qa_distinct("video") == ["clip.mp4", "other.mp4"]


def test_undo_of_a_delete_after_new_inserts_still_restores_the_item(project):
    project.add_qa_items(_items(3))
    before = project.qa_record("q00002").to_dict()
    project.delete_qa(["q00002"])
    project.add_qa_items([QARecord("new", "body_part_pose", "c.mp4", "New?", ["a", "b"], 0)])
    assert project.undo()["kind"] == "delete"
    assert project.qa_record("q00002").to_dict() == before
    assert project.qa_count() == 4
