"""The proxy-training export's LLaMA-Factory (sharegpt) and ms-swift layouts: the documented
schemas (tests/models/trainer_layouts.py), `datasets` loading every file, layout choice,
missing videos, empty tasks, non-ASCII text and names with spaces. Real clips."""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from models.export import ExportError, ExportOptions, MissingVideosError, export
from tests.conftest import CLIPS
from tests.models.export_samples import sample_records
from tests.models.trainer_layouts import LayoutError, check_sharegpt, check_swift

DIFFS = [{"video": "arm_wrestling.mp4", "frame_a": 3, "frame_b": 20,
          "text": "Der linke Arm hebt sich — 左臂抬起 🙂"}]


def proxy(records, out, **kw) -> object:
    extra = kw.pop("extra", {"spatial_differences": DIFFS})
    opts = ExportOptions(video_root=str(kw.pop("root", CLIPS)), frames_per_item=2, extra=extra, **kw)
    return export("proxy-training", records, out, opts)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("trainers") / "proxy"
    proxy(sample_records(), out)
    return out


def load_json(path: Path):
    from datasets import load_dataset

    return load_dataset("json", data_files=str(path), split="train")


def trainer_files(folder: Path) -> list:
    return [p for p in sorted((folder / "sharegpt").glob("*.json")) if p.name != "dataset_info.json"] \
        + sorted((folder / "swift").glob("*.jsonl"))


def test_both_layouts_follow_their_documented_formats(folder):
    share = check_sharegpt(folder)
    swift = check_swift(folder)
    llava = {p.stem: json.loads(p.read_text()) for p in (folder / "llava").glob("*.json")}
    assert {k.removeprefix("actionart_"): len(v) for k, v in share.items()} == \
        {k: len(v) for k, v in llava.items()} == {k: len(v) for k, v in swift.items()} == \
        {"pose_description": 2, "spatial_difference": 1, "synth_qa": 5}
    qa = share["actionart_synth_qa"][0]
    assert qa["videos"] == ["../videos/arm_wrestling__1p000_2p000.mp4"]
    assert qa["conversations"][0]["value"].startswith("<video>Is the right arm")
    assert qa["conversations"][1] == {"from": "gpt", "value": "C. bent at a right angle"}
    diff = swift["spatial_difference"][0]
    assert diff["images"] == ["frames/arm_wrestling/000003.jpg", "frames/arm_wrestling/000020.jpg"]
    assert diff["messages"][0]["content"].startswith("<image><image>The first image")
    info = json.loads((folder / "sharegpt/dataset_info.json").read_text())
    assert info["actionart_synth_qa"]["columns"] == {"messages": "conversations", "videos": "videos"}
    assert info["actionart_pose_description"]["tags"]["user_tag"] == "human"
    readme = (folder / "README.md").read_text()
    assert "ROOT_IMAGE_DIR" in readme and "dataset_dir" in readme


def test_every_file_loads_with_datasets_and_keeps_non_ascii_text(folder):
    files = trainer_files(folder)
    assert len(files) == 6
    for f in files:
        ds = load_json(f)
        assert len(ds) == len(check_swift(folder)[f.stem])
    raw = (folder / "sharegpt/spatial_difference.json").read_text(encoding="utf-8")
    assert "左臂抬起 🙂" in raw and "\\u" not in raw      # written as UTF-8, not escaped
    row = load_json(folder / "swift/spatial_difference.jsonl")[0]
    assert row["messages"][1]["content"] == DIFFS[0]["text"]
    qa = load_json(folder / "sharegpt/synth_qa.json")
    by_id = {r["id"]: r for r in qa}
    assert "new line ü" in by_id["qa_0005"]["conversations"][0]["value"]


@pytest.mark.parametrize("damage", ["drop_media", "extra_tag", "swap_roles", "missing_file"])
def test_the_checks_catch_a_broken_file(folder, tmp_path, damage):
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    share = copy / "sharegpt/synth_qa.json"
    rows = json.loads(share.read_text())
    if damage == "drop_media":
        rows[0]["videos"] = []
    elif damage == "extra_tag":
        rows[0]["conversations"][0]["value"] += "<video>"
    elif damage == "swap_roles":
        rows[0]["conversations"].reverse()
    else:
        (copy / rows[0]["videos"][0].removeprefix("../")).unlink()
    share.write_text(json.dumps(rows))
    with pytest.raises(LayoutError):
        check_sharegpt(copy)
    if damage == "missing_file":
        with pytest.raises(LayoutError, match="no file"):
            check_swift(copy)


def test_a_task_without_conversations_gets_no_trainer_file(tmp_path):
    recs = [dataclasses.replace(r, provenance=dataclasses.replace(r.provenance, facts=None))
            for r in sample_records()]
    proxy(recs, tmp_path / "out", extra={})
    out = tmp_path / "out"
    assert not (out / "sharegpt/pose_description.json").exists()
    assert not (out / "swift/spatial_difference.jsonl").exists()
    info = json.loads((out / "sharegpt/dataset_info.json").read_text())
    assert list(info) == ["actionart_synth_qa"]
    assert json.loads((out / "llava/pose_description.json").read_text()) == []
    assert check_sharegpt(out) and list(check_swift(out)) == ["synth_qa"]
    assert "No conversations for pose_description, spatial_difference" in (out / "README.md").read_text()


def test_texts_of_a_missing_video_are_refused_or_skipped_and_reported(tmp_path):
    gone = [{"video": "gone clip.mp4", "frame": 1, "text": "Arms up."}]
    extra = {"pose_descriptions": gone + [{"video": "arm_wrestling.mp4", "frame": 2, "text": "Ok."}],
             "spatial_differences": [dict(DIFFS[0], video="gone clip.mp4")]}
    with pytest.raises(MissingVideosError, match="gone clip.mp4") as err:
        proxy(sample_records()[:1], tmp_path / "a", extra=extra)
    assert err.value.missing[0][0] == "proxy texts of gone clip.mp4"
    assert not (tmp_path / "a").exists()
    report = proxy(sample_records()[:1], tmp_path / "b", extra=extra, skip_missing=True)
    assert report.skipped == [("proxy texts of gone clip.mp4",
                               f"video not found: {CLIPS / 'gone clip.mp4'} "
                               "(1 pose description(s), 1 spatial difference(s) left out)")]
    assert "skipped 1 with missing videos" in report.summary()
    share = check_sharegpt(tmp_path / "b")
    assert [len(v) for v in share.values()] == [1, 1]       # pose (the present clip), QA
    assert "gone" not in json.dumps(share)


def test_an_item_whose_video_is_missing_is_skipped_in_every_layout(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    for name in ("arm_wrestling.mp4", "two_people_room.mp4"):
        shutil.copyfile(CLIPS / name, root / name)
    recs = sample_records()[:2] + [dataclasses.replace(sample_records()[1], qa_id="qa_gone",
                                                       video="gone.mp4")]
    report = proxy(recs, tmp_path / "out", root=root, skip_missing=True, extra={})
    assert report.skipped == [("qa_gone", f"video not found: {root / 'gone.mp4'}")]
    swift = check_swift(tmp_path / "out")["synth_qa"]
    share = check_sharegpt(tmp_path / "out")["actionart_synth_qa"]
    assert [r["id"] for r in swift] == [r["id"] for r in share] == ["qa_0001", "qa_0002"]


def test_names_with_spaces_and_non_ascii(tmp_path):
    root = tmp_path / "vidéos root"
    root.mkdir()
    shutil.copyfile(CLIPS / "arm_wrestling.mp4", root / "Mein Clip ü 1.mp4")
    rec = dataclasses.replace(sample_records()[0], video="Mein Clip ü 1.mp4",
                              question="Ist der rechte Arm gebeugt? 右臂弯曲吗？",
                              options=["gerade", "leicht", "rechtwinklig — 90°", "ganz"])
    extra = {"pose_descriptions": [{"video": "Mein Clip ü 1.mp4", "frame": 4, "text": "Knie 90° ü"}]}
    out = tmp_path / "out dir ü"
    proxy([rec], out, root=root, extra=extra, name="Mein Bench ü")
    share = check_sharegpt(out)
    assert sorted(share) == ["mein_bench_pose_description", "mein_bench_synth_qa"]
    swift = check_swift(out)
    paths = [p for rows in swift.values() for r in rows for p in r.get("images", []) + r.get("videos", [])]
    assert paths and all(" " not in p and p.isascii() for p in paths)
    assert swift["synth_qa"][0]["messages"][1]["content"] == "C. rechtwinklig — 90°"
    for f in trainer_files(out):
        assert len(load_json(f)) == 1


def test_layouts_can_be_chosen_and_unknown_ones_are_refused(tmp_path):
    proxy(sample_records()[:1], tmp_path / "one", extra={"layouts": ["swift"]})
    tops = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert tops == [".actionart-export.json", "README.md", "frames", "swift", "videos"]
    readme = (tmp_path / "one/README.md").read_text()
    assert "swift/" in readme and "llava/" not in readme and "sharegpt/" not in readme
    with pytest.raises(ExportError, match="Unknown proxy-training layout 'axolotl'"):
        proxy(sample_records()[:1], tmp_path / "two", extra={"layouts": "llava,axolotl"})
    assert not (tmp_path / "two").exists()


def test_copy_free_export_points_trainers_at_the_source_videos(tmp_path):
    proxy(sample_records()[:2], tmp_path / "out", copy_videos=False, extra={})
    swift = check_swift(tmp_path / "out")["synth_qa"]
    share = check_sharegpt(tmp_path / "out")["actionart_synth_qa"]
    assert [r["videos"] for r in swift] == [r["videos"] for r in share] == \
        [[str(CLIPS / "arm_wrestling.mp4")], [str(CLIPS / "two_people_room.mp4")]]
    assert not (tmp_path / "out/videos").exists()
