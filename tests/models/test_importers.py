"""Importers: detection, peer layouts, malformed files named by record, all-or-nothing."""
from __future__ import annotations

import json

import pytest

from models.importers import ImportFormatError, detect, import_file, load_file
from tests.conftest import COCO
from tests.models.export_samples import sample_records

MVBENCH = [
    {"video": "166583.webm", "question": "What is the action performed by the person in the video?",
     "candidates": ["Not sure", "Scattering something down", "Piling something up"],
     "answer": "Piling something up"},
    {"video": "clip_2.mp4", "question": "Which hand moves first?", "candidates": ["left", "right"],
     "answer": "left", "start": 1.5, "end": 4.0},
]
VIDEOMME = [
    {"video_id": "001", "duration": "short", "domain": "Sports Competition",
     "sub_category": "Football", "url": "https://example.invalid/x", "videoID": "fFjv93ACGo8",
     "question_id": "001-1", "task_type": "Counting Problem",
     "question": "How many players kneel at the end?",
     "options": ["A. 2.", "B. 3.", "C. 4.", "D. 5."], "answer": "C"},
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_detects_each_layout(tmp_path):
    (tmp_path / "action_antonym.json").write_text(json.dumps(MVBENCH))
    (tmp_path / "videomme.json").write_text(json.dumps(VIDEOMME))
    write_jsonl(tmp_path / "qa.jsonl", [r.to_dict() for r in sample_records()])
    assert detect(tmp_path / "action_antonym.json") == "mvbench"
    assert detect(tmp_path / "videomme.json") == "videomme"
    assert detect(tmp_path / "qa.jsonl") == "jsonl"
    assert detect(COCO / "test_coco.json") == "coco-keypoints"
    (tmp_path / "other.json").write_text('{"hello": 1}')
    with pytest.raises(ImportFormatError, match="not a known import format"):
        detect(tmp_path / "other.json")


def test_mvbench_items_become_records(tmp_path):
    path = tmp_path / "action_antonym.json"
    path.write_text(json.dumps(MVBENCH))
    recs = load_file(path).records
    assert [r.task for r in recs] == ["action_antonym", "action_antonym"]
    assert recs[0].answer_index == 2 and recs[0].options[2] == "Piling something up"
    assert (recs[1].start_s, recs[1].end_s) == (1.5, 4.0) and recs[1].review.status == "candidate"
    assert recs[0].qa_id == load_file(path).records[0].qa_id  # stable ids


def test_videomme_strips_letter_prefixes(tmp_path):
    path = tmp_path / "vm.json"
    path.write_text(json.dumps(VIDEOMME))
    rec = load_file(path).records[0]
    assert rec.options == ["2.", "3.", "4.", "5."] and rec.answer_index == 2
    assert rec.video == "fFjv93ACGo8.mp4" and rec.task == "Counting Problem"


@pytest.mark.parametrize("fid,content,message", [
    ("jsonl", "GOOD\nGOOD\n{not json\n", "line 3: invalid JSON"),
    ("jsonl", "GOOD\n\nBADANSWER\n",
     r"^f.jsonl: record 2 \(line 3\): field 'answer_index' must be an integer in 0..3, got 9$"),
    ("mvbench", json.dumps(MVBENCH + [{"video": "v", "question": "q", "candidates": ["a", "b"],
                                       "answer": "c"}]),
     "^f.json: record 3: field 'answer': 'c' is not one of"),
    ("videomme", json.dumps(VIDEOMME + [dict(VIDEOMME[0], question_id="x", answer="F")]),
     "^f.json: record 2: field 'answer': 'F' is not a letter"),
])
def test_malformed_files_name_the_record(tmp_path, fid, content, message):
    good = json.dumps(sample_records()[0].to_dict())
    bad = dict(sample_records()[1].to_dict(), answer_index=9)
    content = content.replace("GOOD", good, 1).replace("GOOD", json.dumps(
        sample_records()[2].to_dict())).replace("BADANSWER", json.dumps(bad))
    path = tmp_path / ("f.jsonl" if fid == "jsonl" else "f.json")
    path.write_text(content)
    with pytest.raises(ImportFormatError, match=message):
        load_file(path, fid)


def test_import_is_all_or_nothing(project, tmp_path):
    rows = [r.to_dict() for r in sample_records()]
    rows[3]["options"] = "not a list"
    with pytest.raises(ImportFormatError, match="line 4"):
        import_file(project, write_jsonl(tmp_path / "bad.jsonl", rows))
    assert project.qa_count() == 0
    result, added = import_file(project, write_jsonl(tmp_path / "good.jsonl",
                                                     [r.to_dict() for r in sample_records()]))
    assert added == 5 and project.qa_count() == 5
    assert project.qa_record("qa_0001") == sample_records()[0]
    dup = write_jsonl(tmp_path / "dup.jsonl", [rows[0], rows[0]])
    with pytest.raises(ImportFormatError, match="repeats qa_id 'qa_0001'"):
        import_file(project, dup)


def test_coco_import_stores_every_person_in_one_go(project):
    result, added = import_file(project, COCO / "test_coco.json")
    assert added == len(result.poses.persons) == 14
    rows = project.db.query("SELECT COUNT(*) FROM pose_tracks WHERE backend='coco-import'")
    assert rows[0][0] == 14
