"""`main.py import` of PoseTrack18 files: every annotated person of every labelled frame is
stored with their track id as the person number; hostile files give one `error:` line, a
non-zero exit and leave the project exactly as it was."""
from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO, SHARED

PT18 = SHARED / "keypoints" / "posetrack18"
ALL = PT18 / "annotations" / "test_posetrack18_val.json"
CROWD_IMAGE = "images/val/012834_mpii_test/000000.jpg"   # 11 people on it


def cli(*args):
    return subprocess.run([sys.executable, str(REPO / "main.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=str(REPO))


def dump(path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def people_rows(path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return sorted(conn.execute("SELECT content_hash, backend, settings_key, person "
                                   "FROM pose_people").fetchall())
    finally:
        conn.close()


def test_every_annotated_person_is_stored_with_their_track_id(tmp_path):
    from models.importers.posetrack18 import BACKEND
    from models.pose.coco import load_posetrack18
    from models.store import Repository
    from models.video import content_hash

    project = tmp_path / "p.aastudio"
    r = cli("import", ALL, "--project", project)
    assert r.returncode == 0, r.stderr
    assert "14 person pose(s) on 3 image(s); 14 new of 14 stored" in r.stdout
    raw = json.loads(ALL.read_text())
    repo = Repository(project)
    try:
        for video in load_posetrack18(ALL):
            for frame in video.frames:
                got = repo.load_person_tracks(content_hash(frame.image.path), BACKEND,
                                              {"video": video.id})
                want = {int(a["track_id"]): a for a in raw["annotations"]
                        if a["image_id"] == frame.image.id}
                assert sorted(got) == sorted(want) and len(got) == len(frame)
                poses = frame.image_poses()
                for k, tid in enumerate(frame.track_ids):
                    track = got[int(tid)]
                    assert track.backend == BACKEND and len(track) == 1
                    assert np.array_equal(track.image[0], poses[k], equal_nan=True)
    finally:
        repo.close()
    # importing again replaces, it does not duplicate
    r = cli("import", ALL, "--project", project)
    assert r.returncode == 0 and "0 new of 14 stored" in r.stdout
    assert "14 pose track(s) replaced" in r.stderr
    assert len(people_rows(project)) == 14 - 3   # person 0 of each frame is its main subject


def _with_images(tmp_path, doc: dict):
    """``doc`` written where its image file names resolve (annotations/ beside images/)."""
    folder = tmp_path / "pt"
    (folder / "annotations").mkdir(parents=True, exist_ok=True)
    target = folder / CROWD_IMAGE
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PT18 / CROWD_IMAGE, target)
    path = folder / "annotations" / "edited.json"
    path.write_text(json.dumps(doc))
    return path


def crowd(people: int, duplicate: bool = False) -> dict:
    """The 11-person frame with ``people`` annotations (copies of the first ones, shifted)."""
    doc = json.loads(ALL.read_text())
    im = next(i for i in doc["images"] if i["file_name"] == CROWD_IMAGE)
    anns = [a for a in doc["annotations"] if a["image_id"] == im["id"]]
    out = []
    for k in range(people):
        a = json.loads(json.dumps(anns[k % len(anns)]))
        a["id"] = 900 + k
        a["track_id"] = k if not (duplicate and k == people - 1) else 0
        a["keypoints"] = [v + 3 * (k // len(anns)) if j % 3 != 2 else v
                          for j, v in enumerate(a["keypoints"])]
        out.append(a)
    doc["images"], doc["annotations"] = [im], out
    return doc


def test_twenty_people_on_one_frame_are_all_stored(tmp_path):
    project = tmp_path / "p.aastudio"
    r = cli("import", _with_images(tmp_path, crowd(20)), "--project", project)
    assert r.returncode == 0, r.stderr
    assert "20 person pose(s) on 1 image(s); 20 new of 20 stored" in r.stdout
    assert [row[3] for row in people_rows(project)] == list(range(1, 20))


def _truncated(tmp_path):
    path = tmp_path / "cut.json"
    path.write_text(ALL.read_text()[:4000])
    return path


def _edited(mutate):
    def make(tmp_path):
        doc = json.loads(ALL.read_text())
        mutate(doc)
        return _with_images(tmp_path, doc)
    return make


def _set(where, key, value):
    return lambda d: d[where][0].__setitem__(key, value)


def _set_keypoint(value):
    return lambda d: d["annotations"][0]["keypoints"].__setitem__(0, value)


def _text(text):
    def make(tmp_path):
        path = tmp_path / "bad.json"
        path.write_text(text)
        return path
    return make


HOSTILE = {
    "truncated": _truncated,
    "not json": _text('{"categories": [{"keypoints": ["head_top"]}], "annotations": [}'),
    "top level list": _text('[{"categories": 1}]'),
    "huge coordinate": _edited(_set_keypoint(1e300)),
    "infinite coordinate": _text(ALL.read_text().replace('"keypoints": [', '"keypoints": [1e999, ', 1)),
    "huge track id": _edited(_set("annotations", "track_id", 10 ** 30)),
    "huge width": _edited(_set("images", "width", 10 ** 12)),
    "negative track id": _edited(_set("annotations", "track_id", -1)),
    "missing track id": _edited(lambda d: d["annotations"][0].pop("track_id")),
    "missing keypoints": _edited(lambda d: d["annotations"][0].pop("keypoints")),
    "missing images": _edited(lambda d: d.pop("images")),
    "missing image id": _edited(lambda d: d["images"][0].pop("id")),
    "keypoints cut short": _edited(lambda d: d["annotations"][0]["keypoints"].pop()),
    "text in keypoints": _edited(_set_keypoint("x")),
    "twenty people, one track id twice": lambda tmp_path: _with_images(tmp_path,
                                                                       crowd(20, True)),
    "two people made one person": _edited(lambda d: [
        a.__setitem__("actionart", {"person": 5}) for a in d["annotations"][:2]]),
}


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """A project that already holds the real file's people (so "unchanged" means more than
    "empty")."""
    path = tmp_path_factory.mktemp("proj") / "p.aastudio"
    r = cli("import", ALL, "--project", path)
    assert r.returncode == 0, r.stderr
    return path


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files_give_one_error_line_and_change_nothing(case, imported, tmp_path):
    project = tmp_path / "p.aastudio"
    shutil.copyfile(imported, project)
    before = dump(project)
    path = HOSTILE[case](tmp_path)
    r = cli("import", path, "--project", project, "--format", "posetrack18")
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0, r.stdout
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert "Traceback" not in r.stderr
    assert dump(project) == before
