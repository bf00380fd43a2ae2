"""The ``people`` stage on a real two-person clip, its merge into a real project, bad
parameters and a clip with nobody in it."""
from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest

from models.engine.merge import merge_run
from models.engine.shards import RunFolder, ShardSink
from models.engine.stage import ConfigError, Item, Outcome, Task, get_stage, result_key
from models.engine.stages.people import DEFAULTS, people_from_result
from models.jobs import JobContext
from models.pose.tracking import TrackerParams
from models.video import content_hash
from tests.conftest import CLIPS

ROOM = CLIPS / "two_people_room.mp4"        # 72 frames, 1920x1080, two people


def item_of(path) -> Item:
    return Item(content_hash(path), os.path.abspath(path), os.path.basename(path))


def task_of(item: Item, params: dict | None = None) -> Task:
    stage = get_stage("people")
    p = stage.params(params)
    return Task(result_key(item.id, stage, p), "people", item, p, {})


def run_people(item: Item, params: dict | None = None) -> dict:
    return get_stage("people").fn(task_of(item, params), JobContext())


@pytest.fixture(scope="module")
def room():
    item = item_of(ROOM)
    return item, run_people(item)


def test_two_people_found_with_stable_ids(room):
    _, result = room
    people = people_from_result(result)
    assert result["frames"] == len(people) == 72
    assert (people.width, people.height) == (1920, 1080)
    assert result["persons"] == people.persons() and len(result["persons"]) == 2
    for pid in result["persons"]:
        seen = people.coverage(pid)
        assert result["coverage"][str(pid)] == int(seen.sum()) > 0
    assert result["main"] == people.main_person() in result["persons"]
    # the main person is on the most frames
    assert result["coverage"][str(result["main"])] == max(result["coverage"].values())
    # no frame has the same person twice or more people than tracks
    assert (people.count() <= 2).all() and result["frames_with_people"] > 0
    # ids are stable: the same clip gives the same ids and poses again
    again = run_people(room[0])
    assert again["persons"] == result["persons"] and again["coverage"] == result["coverage"]
    np.testing.assert_array_equal(people_from_result(again).image, people.image)


def test_result_is_json_apart_from_the_people_bytes(room):
    _, result = room
    assert isinstance(result["people"], bytes)
    rest = {k: v for k, v in result.items() if k != "people"}
    assert json.loads(json.dumps(rest, allow_nan=False)) == rest
    assert result["backend"] == "mediapipe-multi"
    assert result["settings"]["num_poses"] == 4
    assert result["settings"]["tracker"] == {"gate": 0.5, "max_gap": 15, "min_length": 3}
    assert result["person_of"][str(result["main"])] == 0


def test_defaults_are_the_trackers_own():
    t = TrackerParams()
    assert (DEFAULTS["gate"], DEFAULTS["max_gap"], DEFAULTS["min_length"]) == \
        (t.gate, t.max_gap, t.min_length)
    assert get_stage("people").needs == ("probe",)


def _run_folder(path, item: Item, result: dict) -> None:
    RunFolder(path).prepare({}, "h")
    sink = ShardSink(path)
    sink.write(Outcome(task_of(item), "ok", result))
    sink.close()


def test_merge_stores_every_person_with_the_main_one_as_zero(room, tmp_path, project):
    item, result = room
    _run_folder(tmp_path / "run", item, result)
    first = merge_run(tmp_path / "run", project)
    assert first["people"] == 2 and first["tracks"] == 0
    assert "2 people tracks" in first["summary"]
    stored = project.load_person_tracks(item.id, "mediapipe-multi", result["settings"])
    assert sorted(stored) == [0, 1]
    people = people_from_result(result)
    other = next(p for p in result["persons"] if p != result["main"])
    np.testing.assert_array_equal(stored[0].image, people.person(result["main"]).image)
    np.testing.assert_array_equal(stored[1].image, people.person(other).image)
    assert stored[0].complete and len(stored[0]) == 72
    # the clip is known to the project, as after a poses merge
    assert project.clip_by_path(ROOM) is not None
    # nothing of the single-person cache changes: no poses track under the default settings
    assert project.load_track(item.id, "mediapipe-multi", {}) is None
    again = merge_run(tmp_path / "run", project)
    assert again["people"] == 0 and "0 people tracks" in again["summary"]
    assert sorted(project.load_person_tracks(item.id, "mediapipe-multi",
                                             result["settings"])) == [0, 1]


@pytest.mark.parametrize("params, named", [
    ({"max_persons": 0}, "max_persons"), ({"max_persons": 2.5}, "max_persons"),
    ({"gate": 0}, "gate"), ({"gate": "wide"}, "gate"), ({"max_gap": -1}, "max_gap"),
    ({"min_length": 0}, "min_length"), ({"allow_truncated": "yes"}, "allow_truncated"),
    ({"num_poses": 3}, "num_poses")])
def test_bad_parameters_are_named(tmp_path, params, named):
    item = Item("0" * 32, str(tmp_path / "none.mp4"), "none.mp4")
    with pytest.raises(ConfigError, match=named):
        run_people(item, params)


def test_a_clip_with_nobody_gives_zero_persons(tmp_path, project):
    path = tmp_path / "plain.avi"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (160, 120))
    assert out.isOpened()
    for _ in range(6):
        out.write(np.full((120, 160, 3), (40, 160, 90), np.uint8))
    out.release()
    item = item_of(path)
    result = run_people(item, {"max_persons": 2})
    assert result["frames"] == 6 and result["persons"] == [] and result["coverage"] == {}
    assert result["main"] is None and result["frames_with_people"] == 0
    people = people_from_result(result)
    assert people.persons() == [] and len(people) == 6
    _run_folder(tmp_path / "run", item, result)
    merged = merge_run(tmp_path / "run", project)
    assert merged["people"] == 0 and merged["results"] == 1
