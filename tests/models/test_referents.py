"""Referents: the phrase that names one of several people, or None when a viewer could
misread it."""
import numpy as np

from models.describe.referents import SINGLE, capitalised, centres, referents
from models.pose.track import PoseTrack


def _track(xs, frames=10):
    """A BlazePose track whose every joint sits at x (a number or a per-frame list)."""
    xs = np.broadcast_to(np.asarray(xs, dtype=np.float32), (frames,))
    img = np.zeros((frames, 33, 4), dtype=np.float32)
    img[..., 0] = xs[:, None]
    img[..., 1] = 0.5
    img[..., 3] = 1.0
    img[np.isnan(xs)] = np.nan
    return PoseTrack(img, img.copy(), fps=10.0, width=640, height=480)


def test_one_person_is_the_person():
    assert referents({0: _track(0.5)}) == {0: SINGLE}


def test_two_people_apart_are_left_and_right_in_picture_order():
    got = referents({0: _track(0.8), 3: _track(0.2)})
    assert got == {3: "the person on the left", 0: "the person on the right"}


def test_three_people_get_the_middle():
    got = referents({0: _track(0.5), 1: _track(0.1), 2: _track(0.9)})
    assert got[0] == "the person in the middle"
    assert got[1] == "the person on the left" and got[2] == "the person on the right"


def test_crossing_people_are_ambiguous():
    a = np.linspace(0.2, 0.8, 10)
    got = referents({0: _track(a), 1: _track(a[::-1])})
    assert got == {0: None, 1: None}


def test_people_too_close_are_ambiguous_but_a_far_third_is_named():
    got = referents({0: _track(0.40), 1: _track(0.43), 2: _track(0.9)})
    assert got[0] is None and got[1] is None
    assert got[2] == "the person on the right"


def test_crossing_outside_the_window_does_not_matter():
    a = np.r_[np.full(5, 0.2), np.linspace(0.2, 0.8, 5)]
    b = np.r_[np.full(5, 0.8), np.linspace(0.8, 0.2, 5)]
    tracks = {0: _track(a), 1: _track(b)}
    assert referents(tracks, 0, 5) == {0: "the person on the left", 1: "the person on the right"}
    assert referents(tracks, 0, 10) == {0: None, 1: None}


def test_a_person_seen_rarely_is_not_named_and_does_not_count():
    rare = np.full(10, np.nan)
    rare[0] = 0.3
    got = referents({0: _track(0.5), 1: _track(rare)})
    assert got == {0: SINGLE, 1: None}
    assert np.isnan(centres({1: _track(rare)})[1][1:]).all()


def test_many_people_get_ordinals():
    tracks = {i: _track(0.05 + 0.15 * i) for i in range(5)}
    got = referents(tracks)
    assert got[0] == "the person furthest to the left"
    assert got[1] == "the second person from the left"
    assert got[4] == "the person furthest to the right"
    assert capitalised(got[1]) == "The second person from the left"
