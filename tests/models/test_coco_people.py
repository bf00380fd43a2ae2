"""Several people per image: COCO keypoints with track ids (export and import) and the real
PoseTrack18 annotations (mmpose's test files)."""
from __future__ import annotations

import json
from collections import Counter, defaultdict

import numpy as np
import pytest

from models.errors import PoseError
from models.export import ExportOptions, export
from models.export.base import ExportError
from models.pose.coco import load_coco, load_posetrack18, people_of, save_coco
from models.pose.skeleton import blazepose
from models.pose.track import PoseTrack
from tests.conftest import COCO, SHARED

PT18 = SHARED / "keypoints" / "posetrack18"
PT18_ALL = PT18 / "annotations" / "test_posetrack18_val.json"
PT18_ONE = sorted((PT18 / "annotations" / "val").glob("*.json"))


def _person(frames: int, posed, x: float, seed: int) -> PoseTrack:
    rng = np.random.default_rng(seed)
    img = np.full((frames, 33, 4), np.nan, np.float32)
    for f in posed:
        img[f, :, 0] = x + rng.uniform(-0.05, 0.05, 33)
        img[f, :, 1] = rng.uniform(0.1, 0.9, 33)
        img[f, :, 2] = 0.0
        img[f, :, 3] = rng.choice([0.3, 0.95], 33)
    return PoseTrack(img, img.copy(), 25.0, 340, 256, backend="mediapipe-multi")


def _people():
    return {0: _person(4, [0, 1, 2, 3], 0.5, 0), 3: _person(4, [0, 2], 0.2, 1),
            7: _person(4, [1, 2], 0.8, 2)}


def test_multi_person_export_imports_back_the_same_people(tmp_path, clip):
    people = _people()
    opts = ExportOptions(video_root=str(clip("x").parent),
                         extra={"tracks": [("arm_wrestling.mp4", people)]})
    report = export("coco-keypoints", [], tmp_path / "coco", opts)
    assert report.items == 4                          # four frames with somebody on them
    for variant in ("coco17", "blazepose33"):
        path = tmp_path / "coco" / f"actionart_{variant}.json"
        doc = json.loads(path.read_text())
        per_image = defaultdict(list)
        for ann in doc["annotations"]:
            per_image[ann["image_id"]].append(ann["track_id"])
            assert ann["actionart"] == {"person": ann["track_id"]}
        assert sorted(per_image.values()) == sorted([[0, 3], [0, 7], [0, 3, 7], [0]])
        assert len({a["id"] for a in doc["annotations"]}) == 8   # annotation ids unique
        back = load_coco(path)
        frames = [people_of(im) for im in back.images]
        assert [f.track_ids.tolist() for f in frames] == [[0, 3], [0, 7], [0, 3, 7], [0]]
    # the BlazePose-33 file gives back every person's joints (pixels) and visibility flag
    sk_frames = {int(im.file_name.rsplit("/", 1)[1][:6]): people_of(im) for im in back.images}
    for f, fp in sk_frames.items():
        for k, tid in enumerate(fp.track_ids):
            src = people[int(tid)].image[f]
            np.testing.assert_allclose(fp.keypoints[k, :, 0], src[:, 0] * 340, atol=1e-3)
            np.testing.assert_allclose(fp.keypoints[k, :, 1], src[:, 1] * 256, atol=1e-3)
            assert (fp.keypoints[k, :, 2] == np.where(src[:, 3] >= 0.75, 2, 1)).all()
            np.testing.assert_allclose(fp.image_poses()[k, :, :2], src[:, :2], atol=1e-5)


def test_single_track_export_has_no_track_ids(tmp_path, clip):
    """A lone track (today's export) is written as before: no track id, no extension."""
    opts = ExportOptions(video_root=str(clip("x").parent),
                         extra={"tracks": [("arm_wrestling.mp4", _people()[3])]})
    export("coco-keypoints", [], tmp_path / "coco", opts)
    doc = json.loads((tmp_path / "coco" / "actionart_coco17.json").read_text())
    assert [a["id"] for a in doc["annotations"]] == [a["image_id"] for a in doc["annotations"]]
    assert not any("track_id" in a or "actionart" in a for a in doc["annotations"])
    back = load_coco(tmp_path / "coco" / "actionart_coco17.json")
    assert [people_of(im).track_ids.tolist() for im in back.images] == [[-1], [-1]]


def test_people_of_different_frame_sizes_are_refused(tmp_path, clip):
    people = _people()
    people[3].width = 640
    opts = ExportOptions(video_root=str(clip("x").parent),
                         extra={"tracks": [("arm_wrestling.mp4", people)]})
    with pytest.raises(ExportError, match="different frame sizes"):
        export("coco-keypoints", [], tmp_path / "coco", opts)


def test_every_annotation_of_an_image_is_a_person():
    dataset = load_coco(COCO / "test_coco.json")
    raw = json.loads((COCO / "test_coco.json").read_text())
    counts = Counter(a["image_id"] for a in raw["annotations"])
    for im in dataset.images:
        fp = people_of(im)
        assert len(fp) == counts[im.id] == fp.keypoints.shape[0] == fp.image_poses().shape[0]
        assert (fp.track_ids == -1).all()            # COCO has no track ids


def test_track_ids_survive_save_and_load(tmp_path):
    dataset = load_coco(PT18_ALL)
    out = tmp_path / "again.json"
    save_coco(out, dataset, variant="blazepose33")
    again = load_coco(out)
    assert [p.track_id for p in again.persons] == [p.track_id for p in dataset.persons]
    assert all(p.person is None for p in again.persons)   # not ours: no person number


@pytest.mark.parametrize("path", [PT18_ALL, *PT18_ONE], ids=lambda p: p.name)
def test_posetrack18_people_and_track_ids_per_frame(path):
    raw = json.loads(path.read_text())
    want = defaultdict(list)
    for ann in raw["annotations"]:
        want[ann["image_id"]].append(ann["track_id"])
    videos = load_posetrack18(path)
    assert sorted(v.id for v in videos) == sorted({im["vid_id"] for im in raw["images"]})
    frames = [f for v in videos for f in v.frames]
    assert len(frames) == len(raw["images"])
    for f in frames:
        assert f.track_ids.tolist() == want[f.image.id]
        assert f.keypoints.shape == (len(want[f.image.id]), 33, 3)
        assert f.frame == 0 and f.image.path.is_file()   # images/ under the dataset root
    assert sum(len(f) for f in frames) == len(raw["annotations"])


def test_posetrack18_joints_are_mapped_by_name():
    raw = json.loads(PT18_ALL.read_text())
    names = raw["categories"][0]["keypoints"]
    assert "head_top" in names and "left_eye" not in names
    sk = blazepose()
    by_id = {}
    for v in load_posetrack18(PT18_ALL):
        for f in v.frames:
            for k, ann_id in enumerate(f.ids):
                by_id[ann_id] = f.keypoints[k]
    for ann in raw["annotations"]:
        kp = np.array(ann["keypoints"], dtype=float).reshape(-1, 3)
        got = by_id[ann["id"]]
        for j, name in enumerate(names):
            if name in sk.joints:
                if kp[j, 2] > 0:
                    np.testing.assert_array_equal(got[sk.index(name)], kp[j])
                else:
                    assert got[sk.index(name), 2] == 0
        # joints PoseTrack18 does not have (eyes, hands, feet) are absent
        for name in ("left_eye", "right_eye", "left_pinky", "right_heel", "mouth_left"):
            assert np.isnan(got[sk.index(name), :2]).all() and got[sk.index(name), 2] == 0
    assert sum(int((f.keypoints[..., 2] > 0).sum()) for v in load_posetrack18(PT18_ALL)
               for f in v.frames) == sum(
        int(v > 0) for a in raw["annotations"] for n, v in zip(names, a["keypoints"][2::3])
        if n in sk.joints)


def test_posetrack18_frames_are_ordered_and_empty_frames_kept(tmp_path):
    raw = json.loads(PT18_ONE[1].read_text())       # 009473: two people on one frame
    im = raw["images"][0]
    later = dict(im, id=im["id"] + 8, frame_id=im["frame_id"] + 8,
                 file_name=im["file_name"].replace("000000", "000008"))
    empty = dict(im, id=im["id"] + 4, frame_id=im["frame_id"] + 4, is_labeled=False,
                 file_name=im["file_name"].replace("000000", "000004"))
    moved = [dict(a, id=a["id"] + 800, image_id=later["id"], track_id=a["track_id"] + 1)
             for a in raw["annotations"]]
    raw["images"] = [later, im, empty]
    raw["annotations"] = moved + raw["annotations"]
    path = tmp_path / "video.json"
    path.write_text(json.dumps(raw))
    (video,) = load_posetrack18(path)
    assert [f.frame for f in video.frames] == [0, 4, 8]
    assert [f.track_ids.tolist() for f in video.frames] == [[0, 1], [], [1, 2]]
    assert video.track_ids == [0, 1, 2]
    assert video.frames[1].keypoints.shape == (0, 33, 3)
    assert video.frames[1].image_poses().shape == (0, 33, 4)


def _broken(tmp_path, mutate):
    doc = json.loads(PT18_ALL.read_text())
    mutate(doc)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["annotations"][2].pop("track_id"), r"annotation id \d+ .*missing 'track_id'"),
    (lambda d: d["annotations"][3].__setitem__("track_id", d["annotations"][2]["track_id"]),
     "track_id 2 appears twice on one frame"),
    (lambda d: d["annotations"][0].__setitem__("track_id", -3), r"'track_id' must be .* 0\.\."),
    (lambda d: d["annotations"][0].__setitem__("track_id", 2 ** 40), r"'track_id' must be"),
    (lambda d: d["annotations"][0].__setitem__("track_id", "7"), "'track_id' must be int"),
    (lambda d: d["annotations"][0].__setitem__("track_id", 10 ** 30), "integer of 31 digits"),
    (lambda d: d["annotations"][0].__setitem__("actionart", [1]), "'actionart' must be an object"),
    (lambda d: d["annotations"][0].__setitem__("actionart", {"person": -1}), "'person' must be"),
    (lambda d: d["images"][0].__setitem__("vid_id", ["x"]), r"images\[0\].*'vid_id'"),
    (lambda d: d["images"][0].__setitem__("vid_id", "v" * 201), r"images\[0\].*'vid_id'"),
    (lambda d: d["images"][0].__setitem__("frame_id", "first"), r"images\[0\].*'frame_id'"),
    (lambda d: d["images"][0].__setitem__("frame_id", -1), r"images\[0\].*'frame_id'"),
    (lambda d: d["annotations"][0]["keypoints"].pop(), r"annotations\[0\].*50 numbers"),
    (lambda d: d["annotations"][0].__setitem__("image_id", 5), "image_id 5 is not in"),
    (lambda d: d.__setitem__("annotations", {"a": 1}), "'annotations' must be list"),
])
def test_malformed_posetrack18_names_the_problem(tmp_path, mutate, message):
    with pytest.raises(PoseError, match=message) as err:
        load_posetrack18(_broken(tmp_path, mutate))
    assert "\n" not in str(err.value)


def test_unreadable_posetrack18_files(tmp_path):
    cut = tmp_path / "cut.json"
    cut.write_text(PT18_ALL.read_text()[:3000])
    with pytest.raises(PoseError, match="invalid JSON at line"):
        load_posetrack18(cut)
    with pytest.raises(PoseError, match="not found"):
        load_posetrack18(tmp_path / "nope.json")
    with pytest.raises(PoseError, match="not a regular file"):
        load_posetrack18(tmp_path)
