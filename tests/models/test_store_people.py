"""Every person in the clip, in the project file: the people pose cache, the person of a QA
item, and projects written before either existed (schema 5)."""
from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from models.errors import ProjectDamaged
from models.pose.track import PoseTrack
from models.qa.record import QARecord, RecordError, check_record
from models.store import SCHEMA_VERSION, Repository
from models.store.db import _migrations, _split_sql
from tests.models.export_samples import sample_records

KEY = ("mediapipe-full", {"model_complexity": 1})
# the qa_items columns of schema 5, in the order that program wrote them
OLD_COLUMNS = ("qa_id", "seq", "task", "video", "start_s", "end_s", "frame_a", "frame_b",
               "question", "options", "answer_index", "source", "model_id", "model_revision",
               "prompt_template", "prompt_version", "generation_params", "seed", "frame_indices",
               "pose_backend", "pose_backend_version", "facts", "status", "note", "created_at",
               "updated_at", "gen_key")


def _track(frames=6, seed=0, backend="mediapipe-full", settings=None) -> PoseTrack:
    rng = np.random.default_rng(seed)
    img = rng.random((frames, 33, 4)).astype(np.float32)
    img[2] = np.nan
    return PoseTrack(img, img * 2 - 1, fps=25.0, width=640, height=480, backend=backend,
                     backend_version="0.10.21",
                     settings={"model_complexity": 1} if settings is None else settings)


def _old_row(rec: QARecord, seq: int, status: str) -> tuple:
    prov = rec.provenance
    return (rec.qa_id, seq, rec.task, rec.video, rec.start_s, rec.end_s, rec.frame_a,
            rec.frame_b, rec.question, json.dumps(rec.options), rec.answer_index, rec.source,
            prov.model_id, prov.model_revision, prov.prompt_template, prov.prompt_version,
            None if prov.generation_params is None else json.dumps(prov.generation_params),
            prov.seed, None if prov.frame_indices is None else json.dumps(prov.frame_indices),
            prov.pose_backend, prov.pose_backend_version,
            None if prov.facts is None else json.dumps(prov.facts), status, rec.review.note,
            "2026-11-27T10:00:00.000Z", "2026-11-27T10:00:00.000Z", "gen1")


def _schema5_project(path, track: PoseTrack) -> None:
    """A project file as the schema-5 program left it: a cached track, five QA items and one
    undoable action (two items accepted) whose history rows have only the old columns."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                 "applied_at TEXT NOT NULL DEFAULT 'x')")
    for version, name, sql in _migrations():
        if version <= 5:
            for stmt in _split_sql(sql):
                conn.execute(stmt)
            conn.execute("INSERT INTO schema_version(version, name) VALUES (?, ?)", (version, name))
    conn.execute("INSERT INTO pose_tracks(content_hash, backend, settings_key, backend_version, "
                 "frames, frames_done, complete, data) VALUES (?,?,?,?,?,?,?,?)",
                 ("d" * 64, track.backend, '{"model_complexity":1}', track.backend_version,
                  len(track), len(track), 1, track.to_npz_bytes()))
    marks = ",".join("?" * len(OLD_COLUMNS))
    rows = [_old_row(r, i + 1, "candidate") for i, r in enumerate(sample_records("candidate"))]
    conn.executemany(f"INSERT INTO qa_items({','.join(OLD_COLUMNS)}) VALUES ({marks})", rows)
    conn.execute("INSERT INTO qa_actions(id, kind, label, state) VALUES "
                 "(1, 'bulk_accepted', 'accepted 2 items', 'done')")
    for rowid, row in enumerate(rows[:2], start=1):
        before = dict(zip(OLD_COLUMNS, row), _rowid=rowid)
        after = dict(before, status="accepted", updated_at="2026-11-28T10:00:00.000Z")
        conn.execute("UPDATE qa_items SET status='accepted', updated_at=? WHERE qa_id=?",
                     (after["updated_at"], row[0]))
        conn.execute("INSERT INTO qa_history(action_id, qa_id, before, after) VALUES (1,?,?,?)",
                     (row[0], json.dumps(before), json.dumps(after)))
    conn.commit()
    conn.close()


def test_schema5_project_opens_intact_and_takes_people(tmp_path):
    path = tmp_path / "old.aastudio"
    track = _track()
    _schema5_project(path, track)
    repo = Repository(path)
    assert repo.db.version() == SCHEMA_VERSION >= 6
    # the old track is the main subject, person 0
    people = repo.load_person_tracks("d" * 64, *KEY)
    assert list(people) == [0]
    np.testing.assert_array_equal(people[0].image, track.image)
    np.testing.assert_array_equal(repo.load_track("d" * 64, *KEY).world, track.world)
    # the old QA items are about the main subject
    recs = repo.qa_records()
    assert [r.qa_id for r in recs] == [r.qa_id for r in sample_records()]
    assert all(r.person is None and r.person_referent is None for r in recs)
    assert [r.review.status for r in recs] == ["accepted"] * 2 + ["candidate"] * 3
    assert recs[0].provenance.facts == sample_records()[0].provenance.facts
    # the action recorded before the new columns still undoes and redoes
    assert repo.undo()["ids"] == ["qa_0002", "qa_0001"]
    assert [r.review.status for r in repo.qa_records()] == ["candidate"] * 5
    assert repo.redo() is not None
    assert repo.qa_record("qa_0001").review.status == "accepted"
    # new writes: other people of the same extraction, items about one of them
    repo.save_person_track("d" * 64, 2, _track(seed=2))
    assert list(repo.load_person_tracks("d" * 64, *KEY)) == [0, 2]
    rec = sample_records()[1]
    rec.qa_id, rec.person, rec.person_referent = "qa_new", 2, "the person on the right"
    assert repo.add_qa_items([rec]) == 1
    repo.close()
    again = Repository(path)
    back = again.qa_record("qa_new")
    assert (back.person, back.person_referent) == (2, "the person on the right")
    assert again.qa_record("qa_0003").person is None


def test_people_round_trip_and_replace(project):
    tracks = {0: _track(seed=0), 1: _track(seed=1), 4: _track(seed=4)}
    project.save_person_tracks("abc", tracks)
    back = project.load_person_tracks("abc", *KEY)
    assert list(back) == [0, 1, 4]
    for p, t in tracks.items():
        np.testing.assert_array_equal(back[p].image, t.image)
    # person 0 is what every single-track reader reads
    np.testing.assert_array_equal(project.load_track("abc", *KEY).image, tracks[0].image)
    # a new set replaces the old one: person 4 left, person 0 kept when not given
    project.save_person_tracks("abc", {1: _track(seed=11), 7: _track(seed=7)})
    back = project.load_person_tracks("abc", *KEY)
    assert list(back) == [0, 1, 7]
    np.testing.assert_array_equal(back[1].image, _track(seed=11).image)
    # other settings are another extraction
    assert project.load_person_tracks("abc", "mediapipe-full", {"model_complexity": 2}) == {}
    # one person saved alone; person 0 goes through save_track
    project.save_person_track("abc", 0, _track(seed=20))
    np.testing.assert_array_equal(project.load_track("abc", *KEY).image, _track(seed=20).image)
    # forgetting the extraction forgets everyone in it
    project.delete_track("abc", *KEY)
    assert project.load_person_tracks("abc", *KEY) == {}


def test_people_without_a_main_subject_and_partial_ones(project):
    partial = _track(seed=3)
    partial.frames_done = 2
    project.save_person_track("xyz", 3, partial)
    project.save_person_track("xyz", 5, _track(seed=5))
    assert list(project.load_person_tracks("xyz", *KEY)) == [3, 5]
    assert list(project.load_person_tracks("xyz", *KEY, complete_only=True)) == [5]
    assert project.load_track("xyz", *KEY) is None


@pytest.mark.parametrize("person", [-1, True, "1", 1.0, 2 ** 40, None])
def test_people_refuse_what_is_not_a_track_id(project, person):
    with pytest.raises(ValueError, match="track id"):
        project.save_person_track("abc", person, _track())
    with pytest.raises(ValueError, match="track id"):
        project.save_person_tracks("abc", {person: _track()})
    assert project.load_person_tracks("abc", *KEY) == {}


def test_one_set_of_people_shares_backend_and_settings(project):
    with pytest.raises(ValueError, match="share backend"):
        project.save_person_tracks("abc", {1: _track(), 2: _track(settings={"x": 1})})
    assert project.load_person_tracks("abc", *KEY) == {}


def test_damaged_person_track_is_named(project):
    project.save_person_tracks("abc", {0: _track(), 3: _track(seed=3)})
    with project.db.write() as conn:
        conn.execute("UPDATE pose_people SET data=? WHERE person=3", (b"garbage",))
    with pytest.raises(ProjectDamaged, match="person 3 .*damaged.*extract-poses"):
        project.load_person_tracks("abc", *KEY)
    # extracting again starts by dropping the whole damaged extraction
    assert project.drop_damaged_track("abc", *KEY).startswith("person 3: ")
    assert project.load_person_tracks("abc", *KEY) == {}
    project.save_person_tracks("abc", {0: _track(), 3: _track(seed=3)})
    assert project.drop_damaged_track("abc", *KEY) is None
    assert list(project.load_person_tracks("abc", *KEY)) == [0, 3]


def test_person_of_a_qa_item_round_trips(project):
    rec = sample_records()[0]
    rec.person, rec.person_referent = 3, "the person on the left"
    d = rec.to_dict()
    assert (d["person"], d["person_referent"]) == (3, "the person on the left")
    assert QARecord.from_dict(json.loads(json.dumps(d))) == rec
    plain = sample_records()[2]
    assert QARecord.from_dict(plain.to_dict()).person is None
    main = QARecord.from_dict(dict(plain.to_dict(), person=0))   # the main subject by number
    assert main.person == 0 and check_record(main) is main
    old = {k: v for k, v in plain.to_dict().items() if not k.startswith("person")}
    assert QARecord.from_dict(old) == plain    # records written before the field
    project.add_qa_items([check_record(rec), plain])
    back = project.qa_record(rec.qa_id)
    assert (back.person, back.person_referent) == (3, "the person on the left")
    assert project.qa_record(plain.qa_id).person is None
    # an edit keeps the person; undo and redo restore it exactly
    project.edit_qa(rec.qa_id, question="Is the left arm of the person on the left bent?")
    assert project.qa_record(rec.qa_id).person == 3
    project.delete_qa([rec.qa_id])
    assert project.qa_record(rec.qa_id) is None
    project.undo()
    assert project.qa_record(rec.qa_id).person_referent == "the person on the left"


@pytest.mark.parametrize("field, value, message", [
    ("person", -1, "track id"), ("person", True, "track id"), ("person", "2", "track id"),
    ("person", 1.5, "track id"), ("person", 2 ** 40, "track id"),
    ("person_referent", "", "must not be empty"), ("person_referent", 7, "must be text"),
    ("person_referent", "x" * 501, "longer than 500"), ("person_referent", "a\x00b", "NUL"),
])
def test_person_fields_are_checked(field, value, message):
    d = sample_records()[0].to_dict()
    d[field] = value
    with pytest.raises(RecordError, match=f"field '{field}' .*{message}"):
        QARecord.from_dict(d)
    rec = sample_records()[0]
    setattr(rec, field, value)
    with pytest.raises(RecordError, match=f"field '{field}'"):
        check_record(rec)


def test_damaged_person_column_is_named(project):
    project.add_qa_items(sample_records()[:1])
    with project.db.write() as conn:
        conn.execute("UPDATE qa_items SET person='left' WHERE qa_id='qa_0001'")
    with pytest.raises(ProjectDamaged, match="qa_0001.*person"):
        project.qa_record("qa_0001")
