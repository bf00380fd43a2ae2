"""Bad input for detection and tracking: nobody, crowds, people entering and leaving, joints
outside the picture, an id gone for a while, crossings, NaN / inf / absurd coordinates.
The tracker must never silently give one person's id to somebody else."""
from __future__ import annotations

import numpy as np
import pytest

from models.pose.people import People
from models.pose.skeleton import blazepose
from models.pose.tracking import NOISE, TrackerParams, identity_switches, track, track_people

W, H = 640, 480
J = blazepose().n
FPS = 25.0


def shape_of(seed: int, w: float = 0.1, h: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-0.5, 0.5, (J, 2)) * (w, h)


def pose(shape: np.ndarray, cx: float, cy: float, rng=None, vis: float = 0.9) -> tuple:
    img = np.empty((J, 4), np.float32)
    xy = shape + (cx, cy)
    if rng is not None:
        xy = xy + rng.normal(0, 1.0, xy.shape) / (W, H)
    img[:, :2], img[:, 2], img[:, 3] = xy, 0.0, vis
    world = img.copy()
    world[:, :3] -= 0.5
    return img, world


def ids_of(ids_per_frame, truth_per_frame) -> dict:
    out: dict = {}
    for ids, truth in zip(ids_per_frame, truth_per_frame):
        for pid, g in zip(ids, truth):
            out.setdefault(g, []).append(int(pid))
    return {g: set(v) for g, v in out.items()}


def no_merge(got: dict) -> None:
    """No id is shared by two different people."""
    owners: dict = {}
    for g, ids in got.items():
        for i in ids - {NOISE}:
            assert owners.setdefault(i, g) == g, f"id {i} given to {owners[i]} and {g}"


def test_a_clip_with_nobody_and_frames_with_nobody():
    assert track([], W, H) == []
    assert [r.tolist() for r in track([[], [], []], W, H)] == [[], [], []]
    nobody = track_people([[]] * 5, FPS, W, H)
    assert nobody.persons() == [] and len(nobody) == 5


def test_twenty_people_on_one_frame_only_are_noise_and_then_people():
    shapes = [shape_of(k, 0.04, 0.12) for k in range(20)]
    crowd = [pose(shapes[k], 0.05 + 0.045 * k, 0.2 + 0.3 * (k % 2)) for k in range(20)]
    ids = track([crowd], W, H)
    assert ids[0].tolist() == [NOISE] * 20     # seen once: shorter than min_length
    ids = track([crowd] * 4, W, H)
    assert sorted(ids[3].tolist()) == list(range(20))
    assert all((row == ids[0]).all() for row in ids)
    people = track_people([crowd] * 4, FPS, W, H)
    assert len(people.persons()) == 20 and people.count().tolist() == [20] * 4


def test_people_entering_and_leaving():
    rng = np.random.default_rng(1)
    spans = {"a": (0, 30), "b": (10, 40), "c": (25, 50), "d": (45, 60)}
    x0 = {"a": 0.1, "b": 0.35, "c": 0.6, "d": 0.85}
    frames, truth = [], []
    for f in range(60):
        here = [g for g, (s, e) in spans.items() if s <= f < e]
        frames.append([pose(shape_of(ord(g)), x0[g] + 0.001 * f, 0.5, rng) for g in here])
        truth.append(here)
    ids = track(frames, W, H)
    got = ids_of(ids, truth)
    assert all(len(v) == 1 for v in got.values()) and len(set.union(*got.values())) == 4
    assert [next(iter(got[g])) for g in "abcd"] == [0, 1, 2, 3]   # order of appearance
    people = track_people(frames, FPS, W, H)
    for g, (s, e) in spans.items():
        seen = people.coverage(next(iter(got[g])))
        assert seen.tolist() == [s <= f < e for f in range(60)]


def test_joints_outside_the_picture_still_track():
    """The estimator reports joints beyond the edge (x > 1, y < 0) for a person half out
    of frame: they still compare, and the person keeps one id."""
    rng = np.random.default_rng(2)
    frames, truth = [], []
    for f in range(40):
        a = pose(shape_of(3, 0.2, 0.6), 0.85 + 0.01 * f, 0.2, rng)  # leaves right and top
        b = pose(shape_of(4), 0.3, 0.6, rng)
        frames.append([a, b])
        truth.append(["a", "b"])
    assert (frames[-1][0][0][:, 0] > 1).all() and (frames[0][0][0][:, 1] < 0).any()
    ids = track(frames, W, H)
    got = ids_of(ids, truth)
    assert got == {"a": {0}, "b": {1}} or got == {"a": {1}, "b": {0}}
    people = track_people(frames, FPS, W, H)
    assert people.count().tolist() == [2] * 40


def _gone_and_back(gap: int, params=None):
    """A walks right, is unseen for ``gap`` frames and comes back where her motion puts her;
    B stands still nearby the whole time."""
    rng = np.random.default_rng(5)
    frames, truth = [], []
    for f in range(30 + gap + 20):
        dets, who = [pose(shape_of(6), 0.75, 0.5, rng)], ["b"]
        if not 30 <= f < 30 + gap:
            dets.insert(0, pose(shape_of(7), 0.1 + 0.004 * f, 0.5, rng))
            who.insert(0, "a")
        frames.append(dets)
        truth.append(who)
    return ids_of(track(frames, W, H, params), truth)


def test_an_id_back_within_max_gap_is_the_same_and_beyond_it_is_new():
    gap = TrackerParams().max_gap
    within = _gone_and_back(gap)
    assert within["a"] == {0} and within["b"] == {1}
    second = _gone_and_back(int(FPS))          # one second at 25 frames/s > max_gap
    assert second["b"] == {1} and second["a"] == {0, 2}     # a new id, never b's
    no_merge(second)
    # a tracker told to bridge a second keeps the id across it
    assert _gone_and_back(int(FPS), TrackerParams(max_gap=int(FPS)))["a"] == {0}


def test_a_returning_person_is_never_merged_with_someone_standing_where_they_left():
    """A leaves; C appears where A would be: within the gate C may inherit A's id, but
    while A is gone nobody else's id moves, and B keeps its own."""
    rng = np.random.default_rng(6)
    frames, truth = [], []
    for f in range(60):
        dets, who = [pose(shape_of(8), 0.8, 0.5, rng)], ["b"]
        if f < 20:
            dets.append(pose(shape_of(9), 0.2, 0.5, rng))
            who.append("a")
        if f >= 40:
            dets.append(pose(shape_of(10), 0.2, 0.3, rng))   # somebody else, beyond max_gap
            who.append("c")
        frames.append(dets)
        truth.append(who)
    got = ids_of(track(frames, W, H), truth)
    assert len(got["c"]) == 1 and got["c"] != got["a"]
    no_merge(got)


@pytest.mark.parametrize("vertical", [0.0, 0.05])
def test_two_people_crossing_keep_their_ids(vertical):
    rng = np.random.default_rng(7)
    shape = shape_of(11)
    frames, truth = [], []
    for f in range(30):
        a = pose(shape, 0.1 + 0.03 * f, 0.5, rng)
        b = pose(shape, 0.9 - 0.03 * f, 0.5 + vertical, rng)
        order = rng.permutation(2)
        pair = [(a, "a"), (b, "b")]
        frames.append([pair[i][0] for i in order])
        truth.append([pair[i][1] for i in order])
    ids = track(frames, W, H)
    assert ids_of(ids, truth) == {"a": {0}, "b": {1}}
    assert identity_switches(truth, ids) == 0


def _with_bad_joints(value: float, joints=(3, 17)) -> tuple:
    """Two people 25 frames; on frames 5..7 some of A's joints are ``value``."""
    rng = np.random.default_rng(8)
    frames, truth = [], []
    for f in range(25):
        a = pose(shape_of(12), 0.3 + 0.002 * f, 0.5, rng)
        if 5 <= f < 8:
            a[0][list(joints), :2] = value
            a[1][list(joints), :3] = value
        frames.append([a, pose(shape_of(13), 0.7, 0.5, rng)])
        truth.append(["a", "b"])
    return frames, truth


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_coordinates_are_joints_not_found(value):
    frames, truth = _with_bad_joints(value)
    assert ids_of(track(frames, W, H), truth) == {"a": {0}, "b": {1}}
    people = track_people(frames, FPS, W, H)
    a = people.person(0)
    assert np.isfinite(a.image[~np.isnan(a.image)]).all()   # stored as NaN, never inf
    assert np.isfinite(a.world[~np.isnan(a.world)]).all()
    assert np.isnan(a.image[5, 3]).all() and not np.isnan(a.image[5, 4]).any()


def test_a_detection_with_no_finite_joint_is_noise():
    frames, truth = _with_bad_joints(np.nan, joints=tuple(range(J)))
    ids = track(frames, W, H)
    assert [r.tolist() for r in ids[5:8]] == [[NOISE, 1]] * 3 or \
        [r.tolist() for r in ids[5:8]] == [[0, 1]] * 3
    assert ids_of(ids, truth)["b"] == {1}


def test_an_absurd_joint_does_not_let_a_track_swallow_other_people():
    """One joint a million pictures away (a broken estimate) must not blow the person's
    size up so that every later detection looks near: when A leaves, C (elsewhere) gets
    a new id."""
    rng = np.random.default_rng(9)
    frames, truth = [], []
    for f in range(30):
        dets, who = [], []
        if f < 6:
            a = pose(shape_of(14), 0.2, 0.3, rng)
            if f == 5:
                a[0][0, :2] = 1e6
            dets.append(a)
            who.append("a")
        if f >= 8:
            dets.append(pose(shape_of(15), 0.75, 0.8, rng))
            who.append("c")
        frames.append(dets)
        truth.append(who)
    got = ids_of(track(frames, W, H), truth)
    assert got["c"] != got["a"] and len(got["c"]) == 1
    no_merge(got)
    people = track_people(frames, FPS, W, H)
    assert isinstance(people, People)
    assert np.nanmax(np.abs(people.image[..., :2])) < 10   # the absurd joint is not kept


def test_one_body_returned_twice_is_one_person_two_close_people_stay_two():
    """The landmarker sometimes returns one person twice on a frame (the same head, some
    limbs placed again a little off, as on frame 150 of the basketball gym clip): that is
    one person, not two. Two people standing close (heads apart) are never merged."""
    a, b = shape_of(1), shape_of(2)
    frames = []
    for f in range(20):
        body, ghost = pose(a, 0.3, 0.5), pose(a, 0.3, 0.5)
        ghost[0][20:, :2] += 0.012                 # limbs drawn again, slightly off
        ghost[0][:, 3] = 0.6                       # less sure of itself
        other = pose(b, 0.3 + 0.06, 0.5)           # a second person right beside
        frames.append([body, ghost] if f % 2 else [body, ghost, other])
    ids = track(frames, W, H, TrackerParams(max_gap=3))
    for f, got in enumerate(ids):
        assert got[1] == NOISE and got[0] != NOISE, f"frame {f}: the repeat became a person"
        if f % 2 == 0:
            assert got[2] not in (NOISE, got[0]), f"frame {f}: the neighbour was merged"
    assert len({int(i[0]) for i in ids}) == 1
