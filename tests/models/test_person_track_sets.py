"""Repository.save_person_track_sets: many sets of people in one transaction, checked
before anything is written."""
from __future__ import annotations

import numpy as np
import pytest

from models.pose.track import PoseTrack


def one(x: float, settings=None) -> PoseTrack:
    t = PoseTrack.empty(1, fps=1.0, width=10, height=10, backend="posetrack18",
                        settings=settings or {"video": "v"})
    t.image[0, :, :2] = x
    t.world[0, :, :3] = x
    t.image[0, :, 3] = t.world[0, :, 3] = 1.0
    t.frames_done = 1
    return t


def test_sets_are_stored_whole_and_report_what_they_replaced(project):
    assert project.save_person_track_sets([("a", {0: one(0.1), 3: one(0.2)}),
                                           ("b", {1: one(0.3)})]) == [False, False]
    got = project.load_person_tracks("a", "posetrack18", {"video": "v"})
    assert sorted(got) == [0, 3] and np.allclose(got[3].image[0, :, 0], 0.2)
    assert project.save_person_track_sets([("b", {2: one(0.4)}), ("c", {1: one(0.5)})]) == \
        [True, False]
    assert sorted(project.load_person_tracks("b", "posetrack18", {"video": "v"})) == [2]


@pytest.mark.parametrize("bad", [{-1: one(0.1)}, {0: one(0.1), 1: one(0.2, {"video": "w"})}])
def test_one_bad_set_writes_nothing(project, bad):
    project.save_person_track_sets([("a", {1: one(0.1)})])
    with pytest.raises(ValueError):
        project.save_person_track_sets([("a", {2: one(0.9)}), ("b", bad)])
    assert sorted(project.load_person_tracks("a", "posetrack18", {"video": "v"})) == [1]
    assert project.load_person_tracks("b", "posetrack18", {"video": "v"}) == {}
