"""Generated garbage thrown at every importer (Hypothesis).

Each importer either returns records that pass the one QA schema, store in a real project
file and export cleanly (and the canonical export imports back to the same records), or
raises its one clear error type with a one-line message. Any other exception fails.
"""
from __future__ import annotations

import csv
import io
import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from models.errors import PoseError
from models.export import ExportOptions, export
from models.importers import ImportFormatError, detect, import_file, load_file
from models.pose.coco import coco_document, load_posetrack18
from models.qa.captions import read_captions
from models.qa.errors import CaptionImportError
from models.qa.record import check_record
from models.store import Repository
from tests.conftest import COCO, SHARED
from tests.models.export_samples import sample_records

SETTINGS = settings(max_examples=120, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])
DEEP = "\u0000DEEP\u0000"  # placeholder replaced by raw, very deep JSON nesting

# -- strategies ---------------------------------------------------------------------------------
# text with everything in it: lone surrogates, NUL, U+2028, control characters
any_text = st.text(st.characters(exclude_categories=()), max_size=12)
odd_text = st.sampled_from(["", " ", "a\u2028b", "\ud800", "x\x00y", "A", "../../etc/passwd",
                            "/abs/clip.mp4", "1.5", "NaN", "video.mp4"])
scalars = (st.none() | st.booleans() | st.integers() | st.integers(-2 ** 70, 2 ** 70)
           | st.floats(allow_nan=True, allow_infinity=True) | any_text | odd_text
           | st.just(DEEP))
junk = st.recursive(scalars, lambda c: st.lists(c, max_size=4)
                    | st.dictionaries(any_text | odd_text, c, max_size=4), max_leaves=12)
short = st.text(st.characters(categories=("L", "N", "Zs")), min_size=1, max_size=8)


def options(min_size=2, max_size=5):
    return st.lists(short, min_size=min_size, max_size=max_size, unique_by=str.strip)


def rarely(other, valid, n: int):
    """``valid`` about n-1 times in n, ``other`` otherwise (Hypothesis favours the ends of
    integer ranges, so the choice is a uniform pick from a list)."""
    return st.sampled_from(range(n)).flatmap(lambda k: other if k == n // 2 else valid)


def maybe(valid):
    """A valid value most of the time (so that whole records often pass), garbage otherwise."""
    return rarely(junk, valid, 16)


def mostly(valid):
    return rarely(junk, valid, 6)


def canonical_record():
    return st.fixed_dictionaries({
        "qa_id": maybe(st.uuids().map(str)), "task": maybe(short),
        "video": maybe(short.map(lambda s: s + ".mp4")),
        "question": maybe(short), "options": maybe(rarely(options(11, 100), options(), 8)),
        "answer_index": maybe(rarely(st.integers(-1, 5), st.integers(0, 1), 8)),
    }, optional={
        "start_s": maybe(st.floats(0, 100)), "end_s": maybe(st.floats(0, 100)),
        "frame_a": maybe(st.integers(0, 100)), "frame_b": maybe(st.integers(0, 100)),
        "source": maybe(short),
        "person": maybe(rarely(st.integers(-2, 2 ** 40), st.integers(0, 12), 8)),
        "person_referent": maybe(rarely(st.text(min_size=490, max_size=520), short, 8)),
        "provenance": maybe(st.fixed_dictionaries({}, optional={
            "seed": maybe(st.integers(0, 10)), "facts": maybe(st.lists(junk, max_size=2)),
            "frame_indices": maybe(st.lists(st.integers(0, 50), max_size=3)),
            "generation_params": maybe(st.dictionaries(short, junk, max_size=2)),
            "model_id": maybe(short)})),
        "review": maybe(st.fixed_dictionaries({}, optional={
            "status": maybe(st.sampled_from(["candidate", "accepted", "edited"])),
            "note": maybe(short)})),
    })


def mvbench_item():
    def build(d):
        if isinstance(d.get("candidates"), list) and d["candidates"] and d.get("answer") is True:
            d["answer"] = d["candidates"][0]
        return d
    return st.fixed_dictionaries({
        "video": maybe(short), "question": maybe(short),
        "candidates": maybe(rarely(options(11, 30), options(), 8)), "answer": maybe(st.just(True)),
    }, optional={"start": maybe(st.floats(0, 9)), "end": maybe(st.floats(0, 9)),
                 "task_type": maybe(short)}).map(build)


def videomme_item():
    return st.fixed_dictionaries({
        "question_id": maybe(short | st.integers()), "task_type": maybe(short),
        "question": maybe(short),
        "answer": maybe(rarely(st.sampled_from("ABCDEK"), st.sampled_from("AB"), 8)),
        "videoID": maybe(short),
        "options": maybe(rarely(options(11, 40), options().map(
            lambda o: [f"{'ABCDE'[i]}. {t}" for i, t in enumerate(o)]), 8)),
    }, optional={"video_id": maybe(short | st.integers())})


def deep(n: int) -> str:
    return "[" * n + "]" * n


def to_json(value, depth: int) -> str:
    """JSON text of ``value`` (NaN/Infinity tokens, \\uXXXX escapes of lone surrogates) with
    every DEEP placeholder replaced by ``depth`` levels of nesting."""
    return json.dumps(value, allow_nan=True).replace(json.dumps(DEEP), deep(depth))


def as_lines(items, depth: int, sep: str) -> str:
    return "".join(to_json(it, depth) + sep for it in items)


# -- checks -------------------------------------------------------------------------------------
def _check_imported(path: Path, fmt) -> None:
    """Load and import ``path``; on success, everything stored exports and round-trips."""
    try:
        fid = detect(path) if fmt is None else fmt
    except ImportFormatError as exc:
        assert "\n" not in str(exc)
        return
    try:
        result = load_file(path, fid)
    except ImportFormatError as exc:
        assert "\n" not in str(exc) and str(exc).strip()
        event("refused")
        return
    event("imported")
    with tempfile.TemporaryDirectory() as tmp:
        repo = Repository(Path(tmp) / "p.aastudio")
        try:
            if result.poses is not None:
                _check_poses(result.poses)
                return
            if not result.records:
                return  # import_file refuses an empty file
            for rec in result.records:
                check_record(rec)
            assert repo.add_qa_items(result.records) == len(result.records)
            stored = repo.qa_records()
        finally:
            repo.close()
        _check_exports(stored, Path(tmp))


def _check_exports(records, tmp: Path) -> None:
    opts = ExportOptions(copy_videos=False, video_root=str(tmp))
    for fid in ("jsonl", "lmms-eval", "vlmevalkit-video", "hf-dataset"):
        export(fid, records, tmp / fid, opts)
    for f in (tmp / "lmms-eval").rglob("*.jsonl"):
        for line in f.read_text(encoding="utf-8").split("\n"):
            if line:
                json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in {f.name}"))
    back = load_file(tmp / "jsonl" / "actionart.jsonl").records
    assert sorted(back, key=lambda r: r.qa_id) == sorted(records, key=lambda r: r.qa_id)


def _check_poses(dataset) -> None:
    for variant in ("coco17", "blazepose33"):
        json.dumps(coco_document(dataset.images, variant), allow_nan=False)


def _write(tmp: str, name: str, text: str) -> Path:
    path = Path(tmp) / name
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    return path


# -- QA importers -------------------------------------------------------------------------------
@SETTINGS
@given(st.lists(mostly(canonical_record()), min_size=1, max_size=4), st.integers(60, 3000),
       st.sampled_from(["\n", "\r\n", "\n\n"]), st.sampled_from([None, "jsonl", "videomme"]))
def test_canonical_jsonl_garbage(items, depth, sep, fmt):
    with tempfile.TemporaryDirectory() as tmp:
        _check_imported(_write(tmp, "qa.jsonl", as_lines(items, depth, sep)), fmt)


@SETTINGS
@given(st.lists(mostly(mvbench_item()), min_size=1, max_size=4) | junk, st.integers(60, 3000),
       st.sampled_from([None, "mvbench", "videomme", "coco-keypoints"]))
def test_mvbench_garbage(doc, depth, fmt):
    with tempfile.TemporaryDirectory() as tmp:
        _check_imported(_write(tmp, "action_antonym.json", to_json(doc, depth)), fmt)


@SETTINGS
@given(st.lists(mostly(videomme_item()), min_size=1, max_size=4), st.integers(60, 3000),
       st.sampled_from(["vm.json", "vm.jsonl"]), st.sampled_from([None, "videomme"]))
def test_videomme_garbage(items, depth, name, fmt):
    text = as_lines(items, depth, "\n") if name.endswith("l") else to_json(items, depth)
    with tempfile.TemporaryDirectory() as tmp:
        _check_imported(_write(tmp, name, text), fmt)


@SETTINGS
@given(st.lists(mostly(canonical_record()), min_size=1, max_size=3), st.integers(60, 3000),
       st.sampled_from(["\t", "\n", "\x00", '"', ""]))
def test_vlmevalkit_tsv_garbage(items, depth, noise):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow(["index", "question", "record"])
    for i, it in enumerate(items):
        w.writerow([i, noise, to_json(it, depth) + noise])
    with tempfile.TemporaryDirectory() as tmp:
        _check_imported(_write(tmp, "bench.tsv", buf.getvalue()), None)


@settings(SETTINGS, max_examples=60)
@given(canonical_record(), st.sampled_from(["provenance", "review"]), junk)
def test_hf_parquet_garbage(rec, column, embedded):
    import pyarrow as pa
    import pyarrow.parquet as pq

    row = dict(rec, source_video=rec.get("video"), video="videos/x.mp4")
    for key in ("provenance", "review"):
        row[key] = to_json(row.get(key), 70) if key != column else (
            to_json(embedded, 70) if isinstance(embedded, str) else embedded)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "test.parquet"
        try:
            pq.write_table(pa.Table.from_pylist([row]), path)
        except (pa.ArrowException, ValueError, TypeError, OverflowError, UnicodeEncodeError):
            assume(False)  # pyarrow cannot hold this row at all
        _check_imported(path, "export-table")


# -- COCO keypoints -----------------------------------------------------------------------------
REAL_COCO = json.loads((COCO / "test_coco.json").read_text())


@SETTINGS
@given(st.data())
def test_coco_garbage(data):
    doc = json.loads(json.dumps(REAL_COCO))
    for _ in range(data.draw(st.integers(1, 3))):
        node, key = doc, None
        while True:  # walk down to a random place and replace it with garbage
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            key = data.draw(st.sampled_from(keys))
            if not isinstance(node[key], (dict, list)) or data.draw(st.booleans()):
                break
            node, key = node[key], None
        if key is not None:
            node[key] = data.draw(junk)
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(tmp, "coco.json", to_json(doc, data.draw(st.integers(60, 3000))))
        for name in {im.get("file_name") for im in REAL_COCO["images"]}:
            (Path(tmp) / name).write_bytes((COCO / name).read_bytes())
        try:
            result, _added = import_file(_NullPoseRepo(), path, "coco-keypoints")
        except ImportFormatError as exc:
            assert "\n" not in str(exc)
            event("refused")
            return
        event("imported")
        _check_poses(result.poses)
        with tempfile.TemporaryDirectory() as ptmp:  # the real store takes every person
            repo = Repository(Path(ptmp) / "p.aastudio")
            try:
                repo.import_coco_poses(result.poses)
            finally:
                repo.close()


PT18_ANNOTATIONS = SHARED / "keypoints" / "posetrack18" / "annotations"
REAL_PT18 = json.loads((PT18_ANNOTATIONS / "test_posetrack18_val.json").read_text())


@SETTINGS
@given(st.data())
def test_posetrack18_garbage(data):
    """Garbage anywhere in a real PoseTrack18 file (track ids, video ids, frame ids too):
    one clear PoseError, or per-frame people whose arrays agree with their track ids."""
    doc = json.loads(json.dumps(REAL_PT18))
    for _ in range(data.draw(st.integers(1, 3))):
        node, key = doc, None
        while True:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            key = data.draw(st.sampled_from(keys))
            if not isinstance(node[key], (dict, list)) or data.draw(st.booleans()):
                break
            node, key = node[key], None
        if key is not None:
            node[key] = data.draw(rarely(junk, st.integers(-2, 2 ** 40), 3))
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(tmp, "pt18.json", to_json(doc, data.draw(st.integers(60, 3000))))
        try:
            videos = load_posetrack18(path)
        except PoseError as exc:
            assert "\n" not in str(exc) and str(exc).strip()
            event("refused")
            return
        event("imported")
        for video in videos:
            for frame in video.frames:
                n = len(frame)
                assert frame.keypoints.shape == (n, 33, 3) and frame.track_ids.shape == (n,)
                assert len(set(frame.track_ids.tolist())) == n and (frame.track_ids >= 0).all()
                assert frame.image_poses().shape == (n, 33, 4)
            json.dumps(coco_document([f.image for f in video.frames], "blazepose33"),
                       allow_nan=False)


class _NullPoseRepo:
    def import_coco_poses(self, dataset):
        return {"new": len(dataset.persons), "replaced": 0, "missing": [], "skipped_persons": 0}


# -- captions and raw bytes ---------------------------------------------------------------------
caption = st.fixed_dictionaries({"video": maybe(short), "text": maybe(short)},
                                optional={"start_s": maybe(st.floats(0, 9)),
                                          "end_s": maybe(st.floats(0, 9))})


@SETTINGS
@given(st.lists(mostly(caption), min_size=1, max_size=4) | junk, st.integers(60, 3000),
       st.sampled_from([".json", ".jsonl", ".csv"]))
def test_caption_garbage(doc, depth, ext):
    if ext == ".jsonl":
        text = as_lines(doc if isinstance(doc, list) else [doc], depth, "\n")
    elif ext == ".csv":
        rows = doc if isinstance(doc, list) else [doc]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["video", "text", "start_s", "end_s"])
        for r in rows:
            r = r if isinstance(r, dict) else {"video": r}
            w.writerow(["" if r.get(k) is None else str(r.get(k))
                        for k in ("video", "text", "start_s", "end_s")])
        text = buf.getvalue()
    else:
        text = to_json(doc, depth)
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(tmp, "c" + ext, text)
        try:
            items = read_captions(path)
        except CaptionImportError as exc:
            assert "\n" not in str(exc)
            event("refused")
            return
        event("imported")
        for it in items:
            it["video"].encode("utf-8") and it["text"].encode("utf-8")
            assert all(it[k] is None or math.isfinite(it[k]) for k in ("start_s", "end_s"))
        repo = Repository(Path(tmp) / "p.aastudio")
        try:
            assert repo.add_captions(items) == len(items)
        finally:
            repo.close()


@SETTINGS
@given(st.binary(max_size=400), st.sampled_from(["f.json", "f.jsonl", "f.tsv", "f.parquet",
                                                  "f.csv"]))
def test_raw_bytes_at_every_reader(blob, name):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(blob)
        if name.endswith(".csv"):
            try:
                read_captions(path)
            except CaptionImportError:
                pass
            return
        for fmt in (None, "jsonl", "mvbench", "videomme", "export-table", "coco-keypoints"):
            _check_imported(path, fmt)


def test_a_pose_error_is_an_import_error_for_the_cli():
    """The COCO importer turns PoseError into the importers' one error type."""
    assert not issubclass(PoseError, ImportFormatError)
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(tmp, "c.json", '{"categories": [], "images": [], "annotations": []}')
        with pytest.raises(ImportFormatError, match="no category"):
            load_file(path, "coco-keypoints")


def test_sample_records_pass_the_schema():
    for rec in sample_records():
        check_record(rec)
