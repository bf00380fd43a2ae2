"""Importers: detection, peer layouts, malformed files named by record, all-or-nothing."""
from __future__ import annotations

import json
import os

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


# -- one schema for every record; bounded, strict reading --------------------------------------
def _canonical(**changes) -> str:
    return json.dumps(dict(sample_records()[1].to_dict(), **changes), allow_nan=True)


@pytest.mark.parametrize("line, message", [
    (_canonical(start_s=float("nan")), "NaN is not a number JSON allows"),
    (_canonical(end_s=float("inf")), "Infinity is not a number JSON allows"),
    (_canonical(start_s="1.5"), "field 'start_s' must be a finite number"),
    (_canonical(end_s=1e308).replace("1e+308", "1e400"), "too large"),
    (_canonical(frame_a=2 ** 64), "field 'frame_a' must be a frame number"),
    (_canonical(frame_a=2 ** 70), "integer of 22 digits is too large"),
    (_canonical(options=[f"o{i}" for i in range(100)]), "field 'options' must hold 2-10 options, got 100"),
    (_canonical(options=["a", "a "]), "field 'options' has two identical options"),
    (_canonical(options=["a", ""]), "field 'options' option 2 must not be empty"),
    (_canonical(qa_id=["q", 1]), "field 'qa_id' must be text, got a list"),
    (_canonical(question="lone \ud800 surrogate"), "field 'question' holds a lone surrogate"),
    (_canonical(answer_index=True), "field 'answer_index' must be an integer in 0..3"),
    (_canonical(provenance={"seed": 2 ** 64}), "field 'provenance.seed' must be a 64-bit"),
    (_canonical(provenance={"facts": [[[[1]]]] * 2, "seed": "7"}), "field 'provenance.seed'"),
    (_canonical(review={"status": "maybe"}), "field 'review.status' must be one of"),
    ("[" * 5000 + "]" * 5000, "nested more than 64 levels"),
    ('{"qa_id": ' + "[" * 100 + "]" * 100 + "}", "nested more than 64 levels"),
])
def test_every_record_is_checked_against_one_schema(project, tmp_path, line, message):
    """Values that used to be accepted and crash the store or an export later (or crash the
    import itself) are refused with one line naming the record and the field."""
    good = json.dumps(sample_records()[0].to_dict())
    path = tmp_path / "f.jsonl"
    path.write_text(f"{good}\n\n{line}\n", encoding="utf-8", errors="surrogatepass")
    with pytest.raises(ImportFormatError, match=message) as err:
        import_file(project, path)
    assert str(err.value).startswith("f.jsonl") and "\n" not in str(err.value)
    assert "record 2 (line 3)" in str(err.value) or "line 3" in str(err.value)
    assert project.qa_count() == 0


def test_json_lines_split_on_newline_only(project, tmp_path):
    """U+2028/U+2029/U+0085 are raw characters inside JSON strings (our exports write them)."""
    recs = sample_records()
    recs[0].question = "first\u2028second\u2029third\x85fourth\x0cfifth"
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in recs),
                    encoding="utf-8")
    result, added = import_file(project, path)
    assert added == 5 and project.qa_record("qa_0001").question == recs[0].question


@pytest.mark.parametrize("fid, item, message", [
    ("mvbench", dict(MVBENCH[1], start="abc"), "record 1: field 'start' must be a number"),
    ("mvbench", dict(MVBENCH[1], start=float("inf")), "Infinity is not a number"),
    ("mvbench", dict(MVBENCH[1], video=["a.mp4"]), "record 1: field 'video' must be text"),
    ("mvbench", dict(MVBENCH[1], candidates=[1, 2]), "field 'candidates' must be a list of strings"),
    ("mvbench", dict(MVBENCH[1], candidates=[str(i) for i in range(11)], answer="3"),
     "field 'candidates' must hold 2-10 options, got 11"),
    ("mvbench", dict(MVBENCH[1], start=5, end=1), "field 'end' is before start_s"),
    ("mvbench", dict(MVBENCH[1], task_type={"a": 1}), "field 'task_type' must be text"),
    ("videomme", dict(VIDEOMME[0], options=[f"{c}. x{c}" for c in "ABCDEFGHIJK"], answer="B"),
     "field 'options' must hold 2-10 options, got 11"),
    ("videomme", dict(VIDEOMME[0], question_id=["001-1"]), "field 'question_id' must be text"),
    ("videomme", dict(VIDEOMME[0], answer=3), "field 'answer' must be text"),
    ("videomme", dict(VIDEOMME[0], videoID="x\x00y"), "field 'videoID' holds a NUL"),
])
def test_benchmark_items_name_the_bad_field(tmp_path, fid, item, message):
    path = tmp_path / "f.json"
    path.write_text(json.dumps([item]))
    with pytest.raises(ImportFormatError, match=message):
        load_file(path, fid)


def _parquet(path, **columns):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rec = sample_records()[0].to_dict()
    row = {"qa_id": rec["qa_id"], "task": rec["task"], "source_video": rec["video"],
           "question": rec["question"], "options": rec["options"],
           "answer_index": rec["answer_index"], "provenance": json.dumps(rec["provenance"]),
           "review": json.dumps(rec["review"])}
    row.update(columns)
    pq.write_table(pa.Table.from_pylist([row]), path)
    return path


@pytest.mark.parametrize("columns, message", [
    ({"provenance": 5}, "field 'provenance' must be an object, got an integer"),
    ({"answer_index": 1.0}, "field 'answer_index' must be an integer"),
    ({"start_s": float("nan")}, "field 'start_s' must be a finite number"),
    ({"options": ["a"] * 12}, "field 'options' must hold 2-10 options"),
    ({"review": '{"status": NaN}'}, "field 'review': invalid JSON: NaN"),
    ({"qa_id": 12}, "field 'qa_id' must be text"),
])
def test_parquet_rows_name_the_bad_field(tmp_path, columns, message):
    path = _parquet(tmp_path / "t.parquet", **columns)
    with pytest.raises(ImportFormatError, match=f"t.parquet: record 1: {message}"):
        load_file(path, "export-table")


def test_unreadable_parquet_and_tsv_are_one_error(tmp_path):
    bad = tmp_path / "x.parquet"
    bad.write_bytes(b"PAR1" + b"\x00" * 100 + b"PAR1")
    with pytest.raises(ImportFormatError, match="not a readable Parquet"):
        load_file(bad, "export-table")
    tsv = tmp_path / "x.tsv"
    tsv.write_text("index\trecord\n0\t\x00\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="x.tsv: record 1"):
        load_file(tsv, "export-table")
    tsv.write_text("index\tother\n0\t1\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="no 'record' column"):
        load_file(tsv, "export-table")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "too-big"])
def test_only_bounded_regular_files_are_read(tmp_path, monkeypatch, kind):
    import models.bounded_read as bounded

    path = tmp_path / "qa.jsonl"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    else:
        write_jsonl(path, [r.to_dict() for r in sample_records()])
        monkeypatch.setattr(bounded, "MAX_FILE_BYTES", 1000)
    for fid in (None, "jsonl", "videomme", "mvbench"):
        with pytest.raises(ImportFormatError, match="not a regular file|more than the 1000 bytes"):
            load_file(path, fid)


def test_coco_import_explains_missing_images_and_replacements(project, tmp_path):
    alone = tmp_path / "coco.json"
    alone.write_text((COCO / "test_coco.json").read_text())
    with pytest.raises(ImportFormatError, match=r"none of its \d+ annotated image\(s\) is in"):
        import_file(project, alone)
    result, added = import_file(project, COCO / "test_coco.json")
    assert added == 14 and result.warnings == []
    result, added = import_file(project, COCO / "test_coco.json")
    assert added == 0 and result.warnings == ["14 pose track(s) replaced an earlier import of "
                                              "the same image"]
    doc = json.loads((COCO / "test_coco.json").read_text())
    kept = doc["images"][0]["file_name"]
    (tmp_path / kept).write_bytes((COCO / kept).read_bytes())
    result, added = import_file(project, alone)
    assert added == 0 and len(result.warnings) == 2
    assert "image(s) not found next to coco.json" in result.warnings[0]
