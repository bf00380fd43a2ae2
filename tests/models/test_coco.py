"""COCO keypoints import/export against the real test_coco.json (written by mmpose)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from models.errors import PoseError
from models.pose.coco import (load_coco, person_from_pose, person_track, save_coco)
from models.pose.skeleton import blazepose, coco17
from tests.conftest import COCO

REAL = COCO / "test_coco.json"


@pytest.fixture(scope="module")
def raw():
    return json.loads(REAL.read_text())


@pytest.fixture(scope="module")
def dataset():
    return load_coco(REAL)


def test_real_file_images_and_persons(dataset, raw):
    assert len(dataset.images) == 4 and len(dataset.persons) == 14
    assert [len(im.persons) for im in dataset.images] == [1, 3, 5, 5]
    sizes = {im["id"]: (im["width"], im["height"]) for im in raw["images"]}
    for im in dataset.images:
        assert (im.width, im.height) == sizes[im.id]
        assert im.path.is_file()  # file_name resolved next to the JSON


def test_joints_are_mapped_by_name(dataset, raw):
    names = raw["categories"][0]["keypoints"]
    sk = blazepose()
    by_id = {p.id: p for p in dataset.persons}
    for ann in raw["annotations"]:
        person = by_id[ann["id"]]
        kp = np.array(ann["keypoints"], dtype=float).reshape(-1, 3)
        for j, name in enumerate(names):
            got = person.keypoints[sk.index(name)]
            if kp[j, 2] > 0:
                np.testing.assert_array_equal(got, kp[j])
            else:
                assert np.isnan(got[:2]).all() and got[2] == 0
        assert person.bbox == tuple(ann["bbox"])
    first = by_id[raw["annotations"][0]["id"]]
    assert tuple(first.keypoints[sk.index("left_shoulder")]) == (399, 108, 2)
    missing = [sk.index(n) for n in ("left_heel", "mouth_left", "right_foot_index")]
    assert np.isnan(first.keypoints[missing, :2]).all()


def test_unlabelled_joints_are_nan(dataset, raw):
    zeros = sum(1 for a in raw["annotations"] for v in a["keypoints"][2::3] if v == 0)
    labelled = sum(int(p.labelled.sum()) for p in dataset.persons)
    assert zeros > 0  # the real file has unlabelled joints
    assert labelled == 14 * 17 - zeros


def test_person_track_draws_on_the_image(dataset):
    image = dataset.images[1]
    person = image.persons[0]
    track = person_track(image, person)
    assert len(track) == 1 and track.has_pose[0] and track.complete
    px = track.pixels(0)
    lab = person.labelled
    np.testing.assert_allclose(px[lab, :2], person.keypoints[lab, :2], atol=1e-3)
    assert set(np.round(px[lab, 2], 2)) <= {0.5, 1.0}
    assert np.isnan(px[~lab, :2]).all()


@pytest.mark.parametrize("variant", ["coco17", "blazepose33"])
def test_round_trip(dataset, tmp_path, variant):
    out = tmp_path / f"out_{variant}.json"
    save_coco(out, dataset, variant=variant)
    doc = json.loads(out.read_text())
    sk = coco17() if variant == "coco17" else blazepose()
    cat = doc["categories"][0]
    assert cat["keypoints"] == list(sk.joints)
    assert len(cat["skeleton"]) == len(sk.bones) > 0
    assert all(1 <= a <= sk.n and 1 <= b <= sk.n for a, b in cat["skeleton"])
    back = load_coco(out)
    assert [p.id for p in back.persons] == [p.id for p in dataset.persons]
    for a, b in zip(dataset.persons, back.persons):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)
        assert a.bbox == b.bbox and a.image_id == b.image_id


def test_coco17_skeleton_matches_the_real_file(dataset, tmp_path, raw):
    out = tmp_path / "out.json"
    save_coco(out, dataset)
    written = {tuple(sorted(b)) for b in json.loads(out.read_text())["categories"][0]["skeleton"]}
    assert written == {tuple(sorted(b)) for b in raw["categories"][0]["skeleton"]}


def test_person_from_extracted_pose():
    pose = np.full((33, 4), np.nan, dtype=np.float32)
    pose[11] = (0.5, 0.25, -0.1, 0.9)
    pose[23] = (0.5, 0.75, 0.0, 0.3)
    person = person_from_pose(pose, 640, 480, person_id=7, image_id=1)
    assert tuple(person.keypoints[11]) == (320, 120, 2)
    assert tuple(person.keypoints[23]) == (320, 360, 1)
    assert person.labelled.sum() == 2 and person.bbox == (320, 120, 0, 240)


def _broken(tmp_path, mutate):
    doc = json.loads(REAL.read_text())
    mutate(doc)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["annotations"][3]["keypoints"].pop(), r"annotations\[3\] \(id \d+\).*50 numbers"),
    (lambda d: d["annotations"][2].__setitem__("image_id", 12345), "image_id 12345"),
    (lambda d: d["annotations"][1]["keypoints"].__setitem__(2, 7), "'nose' has visibility 7"),
    (lambda d: d["annotations"][0].__setitem__("keypoints", ["a"] * 51), "only numbers"),
    (lambda d: d["annotations"][4].__setitem__("bbox", [1, 2]), r"annotations\[4\].*bbox"),
    (lambda d: d["annotations"][0].pop("keypoints"), r"annotations\[0\].*missing 'keypoints'"),
    (lambda d: d["categories"][0].pop("keypoints"), "no category has a 'keypoints'"),
    (lambda d: d["images"][1].pop("width"), r"images\[1\]: missing 'width'"),
    (lambda d: d.pop("annotations"), "missing 'annotations'"),
    (lambda d: d["annotations"][0].__setitem__("category_id", [1]), r"'category_id' must be int"),
    (lambda d: d["annotations"][0].__setitem__("bbox", [0, 0, 1e300, 1e300]), "'bbox' must be"),
    (lambda d: d["annotations"][0].__setitem__("bbox", [0, 0, float("inf"), 1]), "Infinity is not"),
    (lambda d: d["annotations"][0].__setitem__("score", "high"), "'score' must be float"),
    (lambda d: d["annotations"][0]["keypoints"].__setitem__(0, 1e300), "finite coordinates"),
    (lambda d: d["images"][0].__setitem__("file_name", "a\x00b.jpg"), r"images\[0\].*'file_name'"),
    (lambda d: d["images"][0].__setitem__("file_name", ["a.jpg"]), r"images\[0\].*'file_name'"),
    (lambda d: d["images"][0].__setitem__("width", 2 ** 62), r"images\[0\].*width/height"),
    (lambda d: d["images"][0].__setitem__("id", 2 ** 64), r"images\[0\]: 'id' must be int"),
])
def test_malformed_files_name_the_problem(tmp_path, mutate, message):
    with pytest.raises(PoseError, match=message) as err:
        load_coco(_broken(tmp_path, mutate))
    assert "\n" not in str(err.value)


def test_unreadable_files(tmp_path):
    cut = tmp_path / "cut.json"
    cut.write_text(REAL.read_text()[:5000])
    with pytest.raises(PoseError, match="invalid JSON at line"):
        load_coco(cut)
    with pytest.raises(PoseError, match="not found"):
        load_coco(tmp_path / "nope.json")
    binary = tmp_path / "image.json"
    binary.write_bytes((COCO / "000000000785.jpg").read_bytes())
    with pytest.raises(PoseError, match="not UTF-8 text"):
        load_coco(binary)
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(PoseError, match="top level"):
        load_coco(listing)
