"""ProjectSink keeps finished ``people`` results in the project: every person's track
(main person 0, others 1..N) in a real project file, done() knows them, failures are not
written."""
from __future__ import annotations

import os

import numpy as np

from models.engine.project_sink import ProjectSink
from models.engine.stage import Item, Outcome, Task, get_stage, result_key
from models.engine.stages.people import BACKEND, DEFAULTS, people_settings, person_tracks
from models.pose.skeleton import blazepose
from models.pose.tracking import TrackerParams, track_people
from models.video import content_hash
from tests.conftest import CLIPS

CLIP = CLIPS / "street_pedestrians.mp4"      # 5 frames, 960x540
W, H = 960, 540


def people_result(frames: int = 5):
    """A people result as the stage returns it, built from synthetic detections."""
    rng = np.random.default_rng(0)
    shapes = [rng.uniform(-0.5, 0.5, (blazepose().n, 2)) * (0.08, 0.3) for _ in range(3)]
    dets = []
    for f in range(frames):
        here = []
        for k, x in enumerate((0.2, 0.5, 0.8)):
            if k == 2 and f == 0:
                continue          # the third person is missing on the first frame
            img = np.zeros((blazepose().n, 4), np.float32)
            img[:, :2] = shapes[k] + (x + 0.01 * f, 0.5)
            img[:, 3] = 0.9
            here.append((img, img.copy()))
        dets.append(here)
    settings = people_settings(DEFAULTS["max_persons"], TrackerParams())
    people = track_people(dets, 25.0, W, H, backend=BACKEND, backend_version="synthetic 1",
                          settings=settings)
    return people, {"people": people.to_npz_bytes(), "persons": people.persons(),
                    "settings": settings, "frames": frames}


def task_of() -> Task:
    item = Item(content_hash(CLIP), os.path.abspath(CLIP), CLIP.name)
    stage = get_stage("people")
    p = stage.params(None)
    return Task(result_key(item.id, stage, p), "people", item, p, {})


def test_finished_people_are_kept_in_the_project(project):
    task = task_of()
    people, result = people_result()
    sink = ProjectSink(project, [task])
    assert sink.done() == set()
    sink.write(Outcome(task, "ok", result))
    stored = project.load_person_tracks(task.item.id, BACKEND, result["settings"])
    want = person_tracks(people)
    assert sorted(stored) == sorted(want) == [0, 1, 2]
    for n, t in want.items():
        assert np.array_equal(stored[n].image, t.image, equal_nan=True)
        assert stored[n].backend_version == "synthetic 1" and stored[n].complete
    assert sink.done() == {task.key}
    assert project.clip_by_path(str(CLIP.resolve())) is not None   # the clip is registered
    # writing the same result again changes nothing; a failed outcome writes nothing
    sink.write(Outcome(task, "ok", result))
    assert sorted(project.load_person_tracks(task.item.id, BACKEND, result["settings"])) == \
        [0, 1, 2]
    assert sink.failed() == {}


def test_a_failed_people_task_is_not_stored(project):
    task = task_of()
    sink = ProjectSink(project, [task])
    sink.write(Outcome(task, "failed", None, "no frame could be decoded"))
    assert sink.failed() == {task.key: 1} and sink.done() == set()
    settings = people_settings(DEFAULTS["max_persons"], TrackerParams())
    assert project.load_person_tracks(task.item.id, BACKEND, settings) == {}


def test_people_under_other_settings_do_not_count_as_done(project):
    task = task_of()
    _, result = people_result()
    other = get_stage("people").params({"max_persons": 2})
    other_task = Task(result_key(task.item.id, get_stage("people"), other), "people",
                      task.item, other, {})
    sink = ProjectSink(project, [task, other_task])
    sink.write(Outcome(task, "ok", result))
    assert sink.done() == {task.key}
