"""Exporters: determinism, round trips, consumers in the app's venv (pandas, datasets),
path safety and bad input. Real clips from tests/data, real encoders and decoders."""
from __future__ import annotations

import base64
import dataclasses
import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

from models.export import ExportError, ExportOptions, MissingVideosError, export, formats
from models.export.base import ExportSink
from models.importers import load_file
from models.qa.record import QARecord
from tests.conftest import CLIPS
from tests.models.export_samples import sample_records

QA_FORMATS = ["jsonl", "lmms-eval", "vlmevalkit-video", "vlmevalkit-frames", "hf-dataset",
              "proxy-training"]


MANIFEST = ".actionart-export.json"


def files_of(folder: Path) -> dict:
    """The export's content (its manifest, which records the time, aside)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    clips = CLIPS
    base = tmp_path_factory.mktemp("exports")
    opts = ExportOptions(video_root=str(clips), frames_per_item=4)
    out = {}
    for fid in QA_FORMATS:
        reports = [export(fid, sample_records(), base / f"{fid}_{k}", opts) for k in range(2)]
        out[fid] = (base / f"{fid}_0", base / f"{fid}_1", reports[0])
    return out


def test_registry_lists_every_format():
    ids = [f.id for f in formats()]
    assert ids == QA_FORMATS + ["coco-keypoints"]
    assert all(f.label and f.description for f in formats())


@pytest.mark.parametrize("fid", QA_FORMATS)
def test_two_exports_are_byte_identical(exported, fid):
    a, b, report = exported[fid]
    fa, fb = files_of(a), files_of(b)
    assert fa.keys() == fb.keys() and fa == fb
    assert sorted(fa) == report.files
    assert not [p for p in a.parent.iterdir() if ".partial" in p.name or ".old" in p.name]
    doc = manifest_of(a)
    assert doc["files"] == report.files and doc["format"] == fid and doc["items"] == report.items


def test_canonical_jsonl_has_every_field_and_round_trips(exported):
    folder = exported["jsonl"][0]
    lines = (folder / "actionart.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(x) for x in lines]
    keys = set(sample_records()[0].to_dict())
    assert all(set(r) == keys for r in rows)
    assert all(set(r["provenance"]) == set(rows[0]["provenance"]) for r in rows)
    assert rows[1]["provenance"]["model_id"] is None and rows[1]["start_s"] is None
    back = load_file(folder / "actionart.jsonl").records
    assert sorted(back, key=lambda r: r.qa_id) == sorted(sample_records(), key=lambda r: r.qa_id)


def test_lmms_eval_folder_layout_and_data_round_trip(exported):
    folder = exported["lmms-eval"][0]
    group = (folder / "_actionart.yaml").read_text()
    assert 'group: "actionart"' in group and '  - "actionart_body_part_pose"' in group
    task = (folder / "actionart_spatial_difference.yaml").read_text()
    assert 'test: "data/spatial_difference.jsonl"' in task
    tmpl = (folder / "_default_template_yaml").read_text()
    for hook in ("doc_to_visual", "doc_to_text", "doc_to_target", "process_results"):
        assert f"{hook}: !function utils.{hook}" in tmpl
    assert "dataset_path: json" in tmpl and "output_type: generate_until" in tmpl
    assert "--include_path" in (folder / "README.md").read_text()
    back = []
    for f in sorted((folder / "data").glob("*.jsonl")):
        rows = [json.loads(x) for x in f.read_text().splitlines()]
        assert all((folder / r["media"]).is_file() for r in rows)
        back += load_file(f).records
    assert sorted(back, key=lambda r: r.qa_id) == sorted(sample_records(), key=lambda r: r.qa_id)


def test_clip_windows_are_cut_into_self_contained_files(exported):
    from models.video import probe

    folder = exported["lmms-eval"][0]
    rows = [json.loads(x) for x in (folder / "data/body_part_pose.jsonl").read_text().splitlines()]
    cut = [r for r in rows if r["start_s"] == 1.0][0]
    info = probe(folder / cut["media"])
    assert cut["media"].endswith("__1p000_2p000.mp4")
    assert abs(info.frame_count - round(info.fps)) <= 2   # one second of video
    whole = [r for r in rows if r["start_s"] is None][0]
    assert (folder / whole["media"]).stat().st_size > 0


def test_vlmevalkit_tsvs_read_back_with_pandas(exported):
    import cv2
    import pandas as pd

    folder = exported["vlmevalkit-video"][0]
    df = pd.read_csv(folder / "actionart.tsv", sep="\t")
    assert list(df.columns[:6]) == ["index", "video", "question", "candidates", "answer", "task_type"]
    assert all((folder / "videos" / f"{v}.mp4").is_file() for v in df["video"])
    recs = {r.qa_id: r for r in sample_records()}
    for _, row in df.iterrows():
        rec = QARecord.from_dict(json.loads(row["record"]))
        assert rec == recs[rec.qa_id] and row["question"] == rec.question
        assert json.loads(row["candidates"])[int(row["answer_index"])] == row["answer"]
    frames = pd.read_csv(exported["vlmevalkit-frames"][0] / "actionart_frames.tsv", sep="\t")
    assert {"A", "B", "C", "D", "answer", "category", "image"} <= set(frames.columns)
    img = cv2.imdecode(np.frombuffer(base64.b64decode(frames["image"][0]), np.uint8), 1)
    assert img is not None and img.ndim == 3
    assert frames["answer"].tolist() == [recs[q].answer_letter for q in frames["qa_id"]]
    assert pd.isna(frames.loc[frames["qa_id"] == "qa_0005", "D"]).all()


def test_hf_folder_loads_with_datasets(exported):
    from datasets import load_dataset

    folder = exported["hf-dataset"][0]
    ds = load_dataset(str(folder), "all", split="test")
    assert len(ds) == 5 and ds.features["video"].dtype == "string"
    assert all((folder / v).is_file() for v in ds["video"])
    sub = load_dataset(str(folder), "body_part_pose", split="test")
    assert sorted(sub["qa_id"]) == ["qa_0001", "qa_0005"]
    recs = {r.qa_id: r for r in sample_records()}
    row = ds.filter(lambda r: r["qa_id"] == "qa_0001")[0]
    assert row["options"] == recs["qa_0001"].options and row["answer"] == "C"
    assert json.loads(row["provenance"]) == recs["qa_0001"].to_dict()["provenance"]


def test_table_exports_import_back_to_the_same_records(exported):
    want = sorted(sample_records(), key=lambda r: r.qa_id)
    hf = exported["hf-dataset"][0]
    back = [r for f in sorted((hf / "data").glob("*.parquet")) for r in load_file(f).records]
    assert sorted(back, key=lambda r: r.qa_id) == want
    for fid, name in (("vlmevalkit-video", "actionart.tsv"),
                      ("vlmevalkit-frames", "actionart_frames.tsv")):
        back = load_file(exported[fid][0] / name).records
        assert sorted(back, key=lambda r: r.qa_id) == want


def test_proxy_training_layouts(exported):
    folder = exported["proxy-training"][0]
    llava = json.loads((folder / "llava/synth_qa.json").read_text())
    assert len(llava) == 5 and llava[0]["conversations"][0]["from"] == "human"
    assert llava[0]["conversations"][0]["value"].startswith("<video>\n")
    assert all((folder / item["video"]).is_file() for item in llava)
    pose = json.loads((folder / "llava/pose_description.json").read_text())
    assert pose and all((folder / p).is_file() for it in pose for p in it["image"])
    assert "right angle" in pose[0]["conversations"][1]["value"]
    msgs = [json.loads(x) for x in (folder / "messages/synth_qa.jsonl").read_text().splitlines()]
    assert [m["role"] for m in msgs[0]["messages"]] == ["user", "assistant"]
    assert msgs[0]["messages"][1]["content"].startswith("C. ")


def test_coco_pose_export_reimports(tmp_path, clip):
    from models.pose.coco import load_coco
    from models.pose.track import PoseTrack

    img = np.full((3, 33, 4), np.nan, np.float32)
    img[0, :, 0], img[0, :, 1], img[0, :, 3] = np.linspace(.2, .8, 33), .5, 1.0
    img[2, :, :2], img[2, :, 3] = .4, .9
    track = PoseTrack(img, img.copy(), 28.0, 340, 256, backend="mediapipe")
    opts = ExportOptions(video_root=str(clip("x").parent), extra={"tracks": [("arm_wrestling.mp4", track)]})
    report = export("coco-keypoints", [], tmp_path / "coco", opts)
    assert report.items == 2
    for variant, n in (("coco17", 17), ("blazepose33", 33)):
        path = tmp_path / "coco" / f"actionart_{variant}.json"
        doc = json.loads(path.read_text())
        cat = doc["categories"][0]
        assert len(cat["keypoints"]) == n and len(cat["skeleton"]) > 10
        back = load_coco(path)
        assert len(back.persons) == 2 and all(im.path.is_file() for im in back.images)
    nose = back.persons[0].keypoints[0]
    assert nose[0] == pytest.approx(0.2 * 340, abs=0.01) and nose[2] == 2


# -- path safety ------------------------------------------------------------------------------
def test_sink_refuses_escaping_paths(tmp_path):
    sink = ExportSink(tmp_path)
    for bad in ("../x.txt", "/etc/x", "a/../../x", "..", "videos/../../y"):
        with pytest.raises(ExportError, match="outside the export folder"):
            sink.path(bad)


def test_hostile_names_never_write_outside(tmp_path, clip):
    root = tmp_path / "root" / "inner"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "inside.mp4").write_bytes(clip("street_pedestrians.mp4").read_bytes())
    base = sample_records()[4]
    hostile = [
        QARecord("../../q1", "../../evil", "sub/../sub/inside.mp4", "q?", ["a", "b"], 0,
                 start_s=0.0, end_s=0.5),
        QARecord("q2", "/abs/task:*?", str(root / "sub" / "inside.mp4"), "q?", ["a", "b"], 1),
        QARecord("q3", "body part/pose\x00x", "sub/inside.mp4", base.question, ["a", "b"], 1),
    ]
    before = {p for p in tmp_path.rglob("*")}
    for fid in QA_FORMATS:
        out = tmp_path / "root" / "out" / fid
        export(fid, hostile, out, ExportOptions(name="../../x/..", video_root=str(root),
                                                frames_per_item=2))
    new = {p for p in tmp_path.rglob("*")} - before
    out_root = (tmp_path / "root" / "out").resolve()
    assert new and all(p.resolve() == out_root or out_root in p.resolve().parents for p in new)
    assert all(".." not in p.name and "*" not in p.name for p in new)


VIDEO_FORMATS = ["lmms-eval", "vlmevalkit-video", "vlmevalkit-frames", "hf-dataset",
                 "proxy-training"]


@pytest.mark.parametrize("where", ["dotdot", "absolute", "symlink"])
def test_videos_outside_the_root_are_refused(tmp_path, clip, where):
    """A record's video may not name a file outside the video root (by ``..``, an absolute
    path or a symlink in the root pointing out): every copying or frame-reading format
    refuses it in one line naming the record and the field, and writes nothing."""
    root = tmp_path / "root"
    root.mkdir()
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(clip("street_pedestrians.mp4").read_bytes())
    (root / "link.mp4").symlink_to(secret)
    video = {"dotdot": "../secret.mp4", "absolute": str(secret), "symlink": "link.mp4"}[where]
    recs = [QARecord("q_evil", "body_part_pose", video, "q?", ["a", "b"], 0)]
    for fid in VIDEO_FORMATS:
        out = tmp_path / f"out_{fid}"
        with pytest.raises(ExportError) as err:
            export(fid, recs, out, ExportOptions(video_root=str(root), frames_per_item=2))
        assert str(err.value).startswith("record q_evil: field 'video': ")
        assert "outside the video root" in str(err.value) and "\n" not in str(err.value)
        assert not out.exists()


# -- bad input -------------------------------------------------------------------------------
def test_empty_set_is_refused(tmp_path):
    with pytest.raises(ExportError, match="no accepted items"):
        export("jsonl", [], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_non_empty_folder_needs_overwrite(tmp_path):
    out = tmp_path / "out"
    export("jsonl", sample_records(), out)
    with pytest.raises(ExportError, match="not empty; it holds an earlier export"):
        export("jsonl", sample_records()[:2], out)
    assert len((out / "actionart.jsonl").read_text().splitlines()) == 5
    export("jsonl", sample_records()[:2], out, ExportOptions(overwrite=True))
    assert len((out / "actionart.jsonl").read_text().splitlines()) == 2


def tree(folder: Path) -> dict:
    """Every entry under ``folder`` with its bytes (None for folders)."""
    return {p.relative_to(folder).as_posix(): None if p.is_dir() else p.read_bytes()
            for p in sorted(folder.rglob("*"))}


def test_overwrite_replaces_only_an_earlier_export(tmp_path, clips_dir):
    out = tmp_path / "out"
    opts = ExportOptions(video_root=str(clips_dir), overwrite=True)
    first = export("lmms-eval", sample_records(), out, opts)
    assert manifest_of(out)["files"] == first.files and "utils.py" in first.files
    second = export("jsonl", sample_records(), out, opts)   # another format replaces it whole
    assert sorted(files_of(out)) == second.files == ["actionart.jsonl"]
    assert manifest_of(out)["format"] == "jsonl"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("extra", ["notes.txt", "data/mine.jsonl", "empty_folder/",
                                   "link", "actionart.jsonl/"])
def test_overwrite_refuses_a_folder_holding_anything_else(tmp_path, extra):
    out = tmp_path / "out"
    export("jsonl", sample_records(), out)
    if extra == "actionart.jsonl/":               # a listed name that is now something else
        (out / "actionart.jsonl").unlink()
        (out / "actionart.jsonl").mkdir()
    elif extra == "link":
        (out / "link").symlink_to(tmp_path)
    elif extra.endswith("/"):
        (out / extra).mkdir()
    else:
        (out / extra).parent.mkdir(exist_ok=True)
        (out / extra).write_text("mine")
    before = tree(out)
    with pytest.raises(ExportError, match="did not write"):
        export("jsonl", sample_records()[:1], out, ExportOptions(overwrite=True))
    assert tree(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("manifest", [None, "{broken", '{"tool": "other", "files": []}',
                                      '{"tool": "ActionArt Studio export", "files": ["../x"]}',
                                      '{"tool": "ActionArt Studio export", "files": ["/etc/x"]}',
                                      '{"tool": "ActionArt Studio export", "files": "notes.txt"}'])
def test_overwrite_refuses_a_folder_that_is_no_export(tmp_path, manifest):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    if manifest is not None:
        (out / MANIFEST).write_text(manifest)
    before = tree(out)
    with pytest.raises(ExportError, match="holds no earlier export"):
        export("jsonl", sample_records(), out, ExportOptions(overwrite=True))
    assert tree(out) == before


def test_overwrite_never_touches_the_projects_files(tmp_path, clip):
    """A folder holding the project file, its clips and notes (even with a manifest that
    lists all of them) is refused outright, as are its ancestors and the video folder."""
    from models.export.project import prepare_options
    from models.store import Repository
    from models.video import probe

    home = tmp_path / "home" / "work"
    home.mkdir(parents=True)
    for name in ("arm_wrestling.mp4", "two_people_room.mp4"):
        (home / name).write_bytes(clip(name).read_bytes())
    repo = Repository(home / "p.aastudio")
    repo.upsert_clip(probe(home / "arm_wrestling.mp4"))
    (home / "notes.txt").write_text("mine")
    names = sorted(p.name for p in home.iterdir())
    (home / MANIFEST).write_text(json.dumps({"tool": "ActionArt Studio export",
                                             "files": names}))
    records = sample_records()[:2]
    try:
        for out, root in ((home, None), (home.parent, None), (tmp_path / "clips", None),
                          (home, str(tmp_path / "elsewhere"))):
            (tmp_path / "clips").mkdir(exist_ok=True)
            opts = ExportOptions(overwrite=True, video_root=root or str(tmp_path / "clips"))
            prepare_options("jsonl", repo, records, opts)
            before = tree(tmp_path)
            with pytest.raises(ExportError, match="Refusing to export to .*project's own data"):
                export("jsonl", records, out, opts)
            assert tree(tmp_path) == before
    finally:
        repo.close()


def test_missing_videos_listed_and_skipped_only_with_consent(tmp_path, clips_dir):
    recs = sample_records() + [QARecord("qa_gone", "body_part_pose", "nope/gone.mp4", "q", ["a", "b"], 0)]
    with pytest.raises(MissingVideosError) as err:
        export("hf-dataset", recs, tmp_path / "a", ExportOptions(video_root=str(clips_dir)))
    assert err.value.missing == [("qa_gone", str(clips_dir / "nope/gone.mp4"))]
    assert "qa_gone" in str(err.value) and not (tmp_path / "a").exists()
    rep = export("hf-dataset", recs, tmp_path / "b",
                 ExportOptions(video_root=str(clips_dir), skip_missing=True))
    assert rep.items == 5 and [q for q, _ in rep.skipped] == ["qa_gone"]


@pytest.mark.parametrize("code,message", [(errno.ENOSPC, "Disk full"),
                                          (errno.EROFS, "read-only")])
def test_write_failure_leaves_nothing_that_looks_complete(tmp_path, clips_dir, monkeypatch, code, message):
    calls = {"n": 0}
    real = ExportSink.write_bytes

    def failing(self, rel, data):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(code, os.strerror(code))
        return real(self, rel, data)

    monkeypatch.setattr(ExportSink, "write_bytes", failing)
    with pytest.raises(ExportError, match=message):
        export("hf-dataset", sample_records(), tmp_path / "out", ExportOptions(video_root=str(clips_dir)))
    assert list(tmp_path.iterdir()) == []


def test_unwritable_parent_is_a_clear_error(tmp_path, monkeypatch):
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m: False if str(p) == str(tmp_path) else real(p, m))
    with pytest.raises(ExportError, match="read-only"):
        export("jsonl", sample_records(), tmp_path / "out")


def test_look_alike_task_ids_stay_distinct(tmp_path, clips_dir):
    from datasets import load_dataset

    base = sample_records()[1]
    recs = [dataclasses.replace(base, qa_id=f"q{i}", task=t)
            for i, t in enumerate(["body part", "body_part", "all", "Body-Part", "yes"])]
    opts = ExportOptions(video_root=str(clips_dir))
    export("lmms-eval", recs, tmp_path / "lm", opts)
    yamls = sorted(p.name for p in (tmp_path / "lm").glob("actionart_*.yaml"))
    assert len(yamls) == 5 and len(list((tmp_path / "lm" / "data").glob("*.jsonl"))) == 5
    export("hf-dataset", recs, tmp_path / "hf", opts)
    card = (tmp_path / "hf" / "README.md").read_text()
    names = [json.loads(ln.split(": ", 1)[1]) if '"' in ln else ln.split(": ", 1)[1]
             for ln in card.splitlines() if ln.startswith("- config_name")]
    assert len(names) == len(set(names)) == 6 and names[0] == "all" and "yes" in names
    sizes = [len(load_dataset(str(tmp_path / "hf"), n, split="test")) for n in names]
    assert sizes == [5, 1, 1, 1, 1, 1]


def test_cancelled_export_leaves_nothing(tmp_path, clips_dir):
    from models.errors import Cancelled
    from models.jobs import CancelToken, JobContext

    token = CancelToken()
    ctx = JobContext(on_progress=lambda d, t, m: token.cancel(), token=token)
    with pytest.raises(Cancelled):
        export("lmms-eval", sample_records(), tmp_path / "out",
               ExportOptions(video_root=str(clips_dir)), ctx)
    assert list(tmp_path.iterdir()) == []


def test_read_only_folder_for_a_real_user_is_a_clear_error(public_tmp):
    """Root ignores permission bits: export as uid 65534 into a folder it cannot write."""
    from tests.conftest import run_unprivileged

    ro = public_tmp / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    code = ("from models.export import export, ExportOptions, ExportError\n"
            "from tests.models.export_samples import sample_records\n"
            "try:\n"
            f"    export('lmms-eval', sample_records(), {str(ro / 'out')!r},\n"
            f"           ExportOptions(video_root={str(CLIPS)!r}))\n"
            "    print('EXPORTED')\n"
            "except ExportError as exc:\n"
            "    print('ERROR', exc)\n")
    res = run_unprivileged(code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("ERROR") and "read-only" in res.stdout, res.stdout
    assert list(ro.iterdir()) == []


RO_CODE = """
from models.export import export, ExportOptions, ExportError
from tests.models.export_samples import sample_records
try:
    export({fmt!r}, sample_records(), {out!r}, ExportOptions(video_root={root!r}, overwrite=True))
    print('EXPORTED')
except ExportError as exc:
    print('ERROR', exc)
"""


@pytest.mark.parametrize("earlier", [False, True])
def test_read_only_output_folder_is_left_alone(public_tmp, earlier):
    """A folder the user made read-only (empty, or holding an earlier export) inside a
    folder they may write: the export refuses it instead of swapping it for a new one."""
    from tests.conftest import run_unprivileged

    mine = public_tmp / "mine"
    out = mine / "ro"
    if earlier:
        export("jsonl", sample_records(), out)
    else:
        out.mkdir(parents=True)
    for p in [mine, *mine.rglob("*")]:
        os.chown(p, 65534, 65534)
    out.chmod(0o555)
    before = tree(mine)
    res = run_unprivileged(RO_CODE.format(fmt="hf-dataset", out=str(out), root=str(CLIPS)))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("ERROR") and "read-only" in res.stdout, res.stdout
    assert tree(mine) == before and (out.stat().st_mode & 0o777) == 0o555


FSIZE_CODE = """
import resource, signal
from models.export import export, ExportOptions, ExportError
from tests.models.export_samples import sample_records
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # writes past the limit fail with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
try:
    export({fmt!r}, sample_records()[:{n}], {out!r}, ExportOptions(video_root={root!r}))
    print('EXPORTED')
except ExportError as exc:
    print('ERROR', exc)
"""


def test_full_disk_while_replacing_keeps_the_earlier_export(tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO

    out = tmp_path / "out"
    export("jsonl", sample_records(), out)
    before = tree(tmp_path)
    code = "import sys; sys.path.insert(0, %r)\n" % str(REPO) + FSIZE_CODE.format(
        limit=300_000, fmt="hf-dataset", n=5, out=str(out), root=str(CLIPS)).replace(
        "ExportOptions(", "ExportOptions(overwrite=True, ")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("ERROR") and "Disk full" in res.stdout, res.stdout
    assert tree(tmp_path) == before


@pytest.mark.parametrize("fmt,n,limit", [("hf-dataset", 5, 300_000),   # a copied video fails
                                         ("lmms-eval", 1, 20_000)])    # the clip encoder fails
def test_full_disk_leaves_no_export_that_looks_complete(tmp_path, fmt, n, limit):
    """A real write limit (RLIMIT_FSIZE: writes fail like on a full disk), in a child process:
    copies raise EFBIG, and cv2's encoder, which drops write errors, leaves a truncated clip
    that the exporter must detect."""
    import subprocess
    import sys

    from tests.conftest import REPO

    code = "import sys; sys.path.insert(0, %r)\n" % str(REPO) + FSIZE_CODE.format(
        limit=limit, fmt=fmt, n=n, out=str(tmp_path / "out"), root=str(CLIPS))
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("ERROR") and ("Disk full" in res.stdout
                                               or "write error" in res.stdout), res.stdout
    assert list(tmp_path.iterdir()) == []


def test_temp_folders_of_dead_exports_are_cleaned(tmp_path):
    """A killed export leaves only a hidden ``.NAME.partial-PID`` folder (never a folder that
    looks complete); the next export to the same place removes it."""
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".out.partial-{dead}"
    (stale / "data").mkdir(parents=True)
    export("jsonl", sample_records(), tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
